"""webhooks: the sandbox's webhook deliveries and refunds; the portal's received events

Revision ID: 0008_webhooks
Revises: 0007_refunds
Create Date: 2026-11-25 00:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_webhooks'
down_revision = '0007_refunds'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sandbox_payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refunded_amount', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.create_check_constraint(op.f('ck_sandbox_payments_refunded_within_amount'),
                                         'refunded_amount BETWEEN 0 AND amount')
    op.create_table('sandbox_webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('payment_reference', sa.String(length=40), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('duplicates_sent', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name=op.f('ck_sandbox_webhook_deliveries_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_webhook_deliveries')),
    sa.UniqueConstraint('event_id', name=op.f('uq_sandbox_webhook_deliveries_event_id'))
    )
    with op.batch_alter_table('sandbox_webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_webhook_deliveries_payment_reference'), ['payment_reference'], unique=False)
        batch_op.create_index('ix_sandbox_webhook_deliveries_status_next', ['status', 'next_attempt_at'], unique=False)
    op.create_table('sandbox_refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('refund_id', sa.String(length=64), nullable=False),
    sa.Column('payment_reference', sa.String(length=40), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('failure_code', sa.String(length=30), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('succeeded', 'failed')", name=op.f('ck_sandbox_refunds_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_sandbox_refunds_amount_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_refunds')),
    sa.UniqueConstraint('reference', name=op.f('uq_sandbox_refunds_reference')),
    sa.UniqueConstraint('refund_id', name=op.f('uq_sandbox_refunds_refund_id'))
    )
    with op.batch_alter_table('sandbox_refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_refunds_payment_reference'), ['payment_reference'], unique=False)
    op.create_table('received_webhooks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_received_webhooks')),
    sa.UniqueConstraint('provider', 'event_id', name=op.f('uq_received_webhooks_provider'))
    )


def downgrade():
    op.drop_table('received_webhooks')
    with op.batch_alter_table('sandbox_refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_refunds_payment_reference'))
    op.drop_table('sandbox_refunds')
    with op.batch_alter_table('sandbox_webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_sandbox_webhook_deliveries_status_next')
        batch_op.drop_index(batch_op.f('ix_sandbox_webhook_deliveries_payment_reference'))
    op.drop_table('sandbox_webhook_deliveries')
    with op.batch_alter_table('sandbox_payments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_sandbox_payments_refunded_within_amount'), type_='check')
        batch_op.drop_column('refunded_amount')
