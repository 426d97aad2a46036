"""placeholder for receipts, filled in by the change that builds it

Revision ID: 0009_receipts
Revises: 0008_webhooks
Create Date: 2026-11-25 00:30:00.000000

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0009_receipts'
down_revision = '0008_webhooks'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
