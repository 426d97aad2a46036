"""pay_bill: the bills table

Revision ID: pay_bill_0001
Revises:
Create Date: 2026-11-24

The service's own Alembic branch: it starts from nothing and needs only the core's first
revision (so the database exists in the core's shape first).
"""

import sqlalchemy as sa
from alembic import op

revision = "pay_bill_0001"
down_revision = None
branch_labels = ("pay_bill",)
depends_on = "0001_identity"


def upgrade():
    op.create_table(
        "pay_bill_bills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bill_number", sa.String(length=12), nullable=False),
        sa.Column("department", sa.String(length=16), nullable=False),
        sa.Column("description_en", sa.String(length=200), nullable=False),
        sa.Column("description_zh", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paid_by", sa.String(length=20), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_pay_bill_bills_amount_positive")),
        sa.CheckConstraint(
            "status IN ('unpaid', 'paid')", name=op.f("ck_pay_bill_bills_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_bill_bills")),
        sa.UniqueConstraint("bill_number", name=op.f("uq_pay_bill_bills_bill_number")),
    )


def downgrade():
    op.drop_table("pay_bill_bills")
