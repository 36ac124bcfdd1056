"""Claims: when a reviewer dismissed a flag (takes it off the worklist).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 23:50:00
"""
import sqlalchemy as sa
from alembic import op

from scrubber.store import UTCDateTime

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dismissed_at', UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('dismissed_at')
