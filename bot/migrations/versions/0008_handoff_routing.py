"""Handoff routing: the team a handoff went to, why, and the group to notify (bot/handoff/routing.py).

Revision ID: 0008
Revises: 0007
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("handoffs", sa.Column("team", sa.String(length=100), nullable=True))
    op.add_column("handoffs", sa.Column("routing_why", sa.Text(), nullable=True))
    op.add_column("handoffs", sa.Column("notify_group", sa.String(length=50), nullable=True))
    op.create_index("ix_handoffs_team", "handoffs", ["team"])


def downgrade() -> None:
    op.drop_index("ix_handoffs_team", table_name="handoffs")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("notify_group")
        batch.drop_column("routing_why")
        batch.drop_column("team")
