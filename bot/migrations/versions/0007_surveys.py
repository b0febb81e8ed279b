"""Surveys asked in conversations and their answers: the ``survey_requests`` table (bot/surveys/models.py).

Revision ID: 0007
Revises: 0006
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_key", sa.String(length=250), nullable=False),
        sa.Column("conversation_id", sa.String(length=200), nullable=False),
        sa.Column("customer_key", sa.String(length=250), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=True),
        sa.Column("agent_name", sa.String(length=200), nullable=True),
        sa.Column("handoff_reason", sa.Text(), nullable=True),
        sa.Column("intents", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("asked_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("commented_at", sa.DateTime(), nullable=True),
        sa.Column("followed_up", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="survey_requests_pkey"),
        sa.UniqueConstraint("conversation_key", name="survey_requests_conversation_key_key"),
    )
    op.create_index("ix_survey_requests_conversation_id", "survey_requests", ["conversation_id"])
    op.create_index("ix_survey_requests_customer_key", "survey_requests", ["customer_key"])
    op.create_index("ix_survey_requests_status", "survey_requests", ["status"])
    op.create_index("ix_survey_requests_asked_at", "survey_requests", ["asked_at"])


def downgrade() -> None:
    op.drop_table("survey_requests")
