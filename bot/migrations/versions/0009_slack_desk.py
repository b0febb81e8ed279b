"""The Slack desk for a team: transfers, SLA timestamps, hand-back, our posts, App Home viewers.

Revision ID: 0009
Revises: 0008
Created: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

HANDOFF_COLUMNS = (
    ("queued_at", sa.DateTime()),
    ("first_agent_reply_at", sa.DateTime()),
    ("last_agent_reply_at", sa.DateTime()),
    ("first_reply_warned_at", sa.DateTime()),
    ("resolution_warned_at", sa.DateTime()),
    ("customer_updated_at", sa.DateTime()),
    ("transferred_from", sa.String(length=100)),
    ("transfer_note", sa.Text()),
    ("earlier_cards", sa.JSON()),
)


def upgrade() -> None:
    for name, kind in HANDOFF_COLUMNS:
        op.add_column("handoffs", sa.Column(name, kind, nullable=True))
    op.create_table(
        "slack_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("ts", sa.String(length=50), nullable=False),
        sa.Column("thread_ts", sa.String(length=50), nullable=True),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("delivery_key", sa.String(length=250), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="slack_posts_pkey"),
        sa.UniqueConstraint("delivery_key", name="slack_posts_delivery_key_key"),
    )
    op.create_index("ix_slack_posts_thread_ts", "slack_posts", ["thread_ts"])
    op.create_table(
        "slack_home_views",
        sa.Column("user_id", sa.String(length=50), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("published_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name="slack_home_views_pkey"),
    )


def downgrade() -> None:
    op.drop_table("slack_home_views")
    op.drop_table("slack_posts")
    with op.batch_alter_table("handoffs") as batch:
        for name, _ in reversed(HANDOFF_COLUMNS):
            batch.drop_column(name)
