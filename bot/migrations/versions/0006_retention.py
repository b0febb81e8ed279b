"""Retention and erasure bookkeeping: the ``retention_audit`` table (bot/retention/audit.py).

One row per ``erase`` or prune run: when, what, the internal customer number and the
rows removed per table; never the data itself.

Revision ID: 0006
Revises: 0005
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="retention_audit_pkey"),
    )


def downgrade() -> None:
    op.drop_table("retention_audit")
