"""Patients: whether documentation was received for them (RULES.md section 5 matches a claim to a
documented patient by member id when its MRN matches nothing).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 23:00:59
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('documented', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute("UPDATE patients SET documented = TRUE WHERE id IN ("
               "SELECT patient_id FROM time_entries UNION SELECT patient_id FROM readings "
               "UNION SELECT patient_id FROM consents UNION SELECT patient_id FROM episodes)")


def downgrade() -> None:
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('documented')
