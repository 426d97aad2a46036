"""receipts: issued documents, their number series and signing keys

Revision ID: 0009_receipts
Revises: 0008_webhooks
Create Date: 2026-11-25 00:16:24.100558

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_receipts'
down_revision = '0008_webhooks'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('receipt_counters',
    sa.Column('series', sa.String(length=40), nullable=False),
    sa.Column('last_sequence', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('series', name=op.f('pk_receipt_counters'))
    )
    op.create_table('receipt_signing_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=False),
    sa.Column('private_key', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipt_signing_keys')),
    sa.UniqueConstraint('key_id', name=op.f('uq_receipt_signing_keys_key_id'))
    )
    op.create_table('receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('cause', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('refund_id', sa.Integer(), nullable=True),
    sa.Column('department', sa.String(length=16), nullable=False),
    sa.Column('series', sa.String(length=40), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=True),
    sa.Column('number', sa.String(length=48), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('short_code', sa.String(length=20), nullable=True),
    sa.Column('signed_payload', sa.Text(), nullable=True),
    sa.Column('key_id', sa.String(length=32), nullable=True),
    sa.Column('storage_key', sa.String(length=80), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_receipts_payment_id_payments')),
    sa.ForeignKeyConstraint(['refund_id'], ['refunds.id'], name=op.f('fk_receipts_refund_id_refunds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipts')),
    sa.UniqueConstraint('cause', name=op.f('uq_receipts_cause')),
    sa.UniqueConstraint('number', name=op.f('uq_receipts_number')),
    sa.UniqueConstraint('public_id', name=op.f('uq_receipts_public_id')),
    sa.UniqueConstraint('series', 'sequence', name=op.f('uq_receipts_series')),
    sa.UniqueConstraint('short_code', name=op.f('uq_receipts_short_code'))
    )
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipts_payment_id'), ['payment_id'], unique=False)
        batch_op.create_index('ix_receipts_status_next_attempt', ['status', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_outbox_emails_receipt_id_receipts'), 'receipts', ['receipt_id'], ['id'])



def downgrade():
    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_emails_receipt_id_receipts'), type_='foreignkey')
        batch_op.drop_column('receipt_id')

    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_index('ix_receipts_status_next_attempt')
        batch_op.drop_index(batch_op.f('ix_receipts_payment_id'))

    op.drop_table('receipts')
    op.drop_table('receipt_signing_keys')
    op.drop_table('receipt_counters')
