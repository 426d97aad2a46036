"""payments: the ledger

Revision ID: 0006_payments
Revises: 0005_sandbox_payments
Create Date: 2026-11-24 23:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_payments'
down_revision = '0005_sandbox_payments'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('open_for', sa.Integer(), nullable=True),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('provider_reference', sa.String(length=64), nullable=True),
    sa.Column('provider_url', sa.String(length=500), nullable=True),
    sa.Column('method', sa.String(length=16), nullable=True),
    sa.Column('return_token_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('succeeded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_payments_application_id_applications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('open_for', name=op.f('uq_payments_open_for')),
    sa.UniqueConstraint('provider', 'provider_reference', name=op.f('uq_payments_provider')),
    sa.UniqueConstraint('public_id', name=op.f('uq_payments_public_id'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_application_id'), ['application_id'], unique=False)
        batch_op.create_index('ix_payments_state_expires', ['state', 'expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_state_expires')
        batch_op.drop_index(batch_op.f('ix_payments_application_id'))

    op.drop_table('payments')
