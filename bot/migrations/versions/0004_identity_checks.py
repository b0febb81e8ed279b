"""Identity-link attempts and one-time codes: ``identity_checks``.

One row per attempt to prove that a new chat belongs to an order's account (counted for
the attempt limits) with the salted hash of its one-time code; see
bot/customers/verification.py.

Revision ID: 0004
Revises: 0003
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("order_number", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("code_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("code_attempts", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="identity_checks_customer_id_fkey", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="identity_checks_pkey"),
    )
    op.create_index("ix_identity_checks_sender", "identity_checks", ["channel", "sender_id", "created_at"])
    op.create_index("ix_identity_checks_order", "identity_checks", ["order_number", "created_at"])
    op.create_index("ix_identity_checks_created_at", "identity_checks", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_identity_checks_created_at", table_name="identity_checks")
    op.drop_index("ix_identity_checks_order", table_name="identity_checks")
    op.drop_index("ix_identity_checks_sender", table_name="identity_checks")
    op.drop_table("identity_checks")
