"""placeholder for webhooks, filled in by the change that builds it

Revision ID: 0008_webhooks
Revises: 0007_refunds
Create Date: 2026-11-25 00:30:00.000000

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0008_webhooks'
down_revision = '0007_refunds'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
