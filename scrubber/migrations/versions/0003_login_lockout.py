"""Credentials: failed log-ins and a lock-out time, for the review UI's password logins.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 23:36:00
"""
import sqlalchemy as sa
from alembic import op

from scrubber.store import UTCDateTime

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')
