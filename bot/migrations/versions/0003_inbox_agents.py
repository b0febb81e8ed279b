"""Agent accounts and sessions of the local inbox.

``inbox_agents`` (scrypt password hashes), ``inbox_sessions`` (SHA-256 of the session
cookie, expiry) and ``inbox_login_failures`` (the login rate limit); see
bot/handoff/desks/inbox/accounts.py.

Revision ID: 0003
Revises: 0002
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="inbox_agents_pkey"),
        sa.UniqueConstraint("name", name="inbox_agents_name_key"),
    )
    op.create_table(
        "inbox_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["inbox_agents.id"], name="inbox_sessions_agent_id_fkey", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name="inbox_sessions_pkey"),
    )
    op.create_index("ix_inbox_sessions_agent_id", "inbox_sessions", ["agent_id"])
    op.create_index("ix_inbox_sessions_expires_at", "inbox_sessions", ["expires_at"])
    op.create_table(
        "inbox_login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("failed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="inbox_login_failures_pkey"),
    )
    op.create_index("ix_inbox_login_failures_name", "inbox_login_failures", ["name"])


def downgrade() -> None:
    op.drop_index("ix_inbox_login_failures_name", table_name="inbox_login_failures")
    op.drop_table("inbox_login_failures")
    op.drop_index("ix_inbox_sessions_expires_at", table_name="inbox_sessions")
    op.drop_index("ix_inbox_sessions_agent_id", table_name="inbox_sessions")
    op.drop_table("inbox_sessions")
    op.drop_table("inbox_agents")
