"""Identity-link attempts and one-time codes.

Revision ID: 0004
Revises: 0003
Created: 2026-12-01
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the feature that needs it


def downgrade() -> None:
    pass
