"""Claim findings: one row per finding (claim, position, rule, severity), so that the claims and
findings listings and the worklist filter by rule in the database instead of reading every claim
of the tenant; filled from the claims' findings as they stand.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 16:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BATCH = 2000  # claims read at a time while filling


def upgrade() -> None:
    findings = op.create_table(
        'claim_findings',
        sa.Column('claim_pk', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('rule', sa.String(length=80), nullable=False),
        sa.Column('severity', sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(['claim_pk'], ['claims.id'], ),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
        sa.PrimaryKeyConstraint('claim_pk', 'position'))
    with op.batch_alter_table('claim_findings', schema=None) as batch_op:
        batch_op.create_index('ix_claim_findings_rule', ['tenant_id', 'rule', 'claim_pk'], unique=False)
        batch_op.create_index('ix_claim_findings_tenant', ['tenant_id', 'claim_pk'], unique=False)
    claims = sa.table('claims', sa.column('id', sa.Integer()), sa.column('tenant_id', sa.Integer()),
                      sa.column('findings', sa.JSON()))
    connection = op.get_bind()
    last = 0
    while True:  # by id, a batch at a time: a large ledger is never held in memory whole
        batch = connection.execute(sa.select(claims.c.id, claims.c.tenant_id, claims.c.findings)
                                   .where(claims.c.id > last).order_by(claims.c.id).limit(BATCH)).all()
        if not batch:
            break
        rows = [{"claim_pk": claim_pk, "position": position, "tenant_id": tenant_id,
                 "rule": finding["rule"], "severity": finding["severity"]}
                for claim_pk, tenant_id, found in batch for position, finding in enumerate(found or ())]
        if rows:
            connection.execute(findings.insert(), rows)
        last = batch[-1].id


def downgrade() -> None:
    with op.batch_alter_table('claim_findings', schema=None) as batch_op:
        batch_op.drop_index('ix_claim_findings_tenant')
        batch_op.drop_index('ix_claim_findings_rule')
    op.drop_table('claim_findings')
