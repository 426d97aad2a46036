"""sandbox payments: the built-in sandbox provider's own records

Revision ID: 0005_sandbox_payments
Revises: 0004_service_switches
Create Date: 2026-11-24 23:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_sandbox_payments'
down_revision = '0004_service_switches'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sandbox_payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('merchant_reference', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('return_url', sa.String(length=2000), nullable=False),
    sa.Column('locale', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('stage', sa.String(length=12), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=True),
    sa.Column('card_last4', sa.String(length=4), nullable=True),
    sa.Column('failure_code', sa.String(length=30), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed', 'cancelled', 'expired')", name=op.f('ck_sandbox_payments_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_sandbox_payments_amount_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_payments')),
    sa.UniqueConstraint('reference', name=op.f('uq_sandbox_payments_reference'))
    )
    with op.batch_alter_table('sandbox_payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_payments_merchant_reference'), ['merchant_reference'], unique=False)
        batch_op.create_index('ix_sandbox_payments_status_expires', ['status', 'expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('sandbox_payments', schema=None) as batch_op:
        batch_op.drop_index('ix_sandbox_payments_status_expires')
        batch_op.drop_index(batch_op.f('ix_sandbox_payments_merchant_reference'))

    op.drop_table('sandbox_payments')
