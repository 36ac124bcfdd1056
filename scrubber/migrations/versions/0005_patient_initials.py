"""Claims: the patient's initials, for the worklist's masked names.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 23:55:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('patient_initials', sa.String(length=4), server_default='',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('patient_initials')
