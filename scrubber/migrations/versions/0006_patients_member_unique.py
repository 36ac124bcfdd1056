"""Patients: one row per member id among patients without an MRN (a partial unique index), so
concurrent first claims for such a patient cannot make two rows and pass a once-per-period rule
twice.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 02:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    duplicates = op.get_bind().execute(sa.text(
        "SELECT tenant_id, member_id, count(*) FROM patients WHERE mrn IS NULL AND member_id IS NOT NULL "
        "GROUP BY tenant_id, member_id HAVING count(*) > 1")).all()
    if duplicates:
        raise RuntimeError(
            f"{len(duplicates)} member id(s) have more than one patient row without an MRN (made by "
            "concurrent first claims before this version); merge them (point their claims and "
            "documentation at one row, delete the others) and run `rpm-scrubber db upgrade` again. "
            "Find them with: SELECT tenant_id, member_id FROM patients WHERE mrn IS NULL "
            "GROUP BY tenant_id, member_id HAVING count(*) > 1")
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index('uq_patients_member_without_mrn', ['tenant_id', 'member_id'], unique=True,
                              postgresql_where=sa.text('mrn IS NULL'), sqlite_where=sa.text('mrn IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index('uq_patients_member_without_mrn', postgresql_where=sa.text('mrn IS NULL'),
                            sqlite_where=sa.text('mrn IS NULL'))
