"""Agent accounts and sessions of the local inbox.

Revision ID: 0003
Revises: 0002
Created: 2026-12-01
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the feature that needs it


def downgrade() -> None:
    pass
