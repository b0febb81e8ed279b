"""Retention and erasure bookkeeping.

Revision ID: 0006
Revises: 0005
Created: 2026-12-01
"""

from __future__ import annotations

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the feature that needs it


def downgrade() -> None:
    pass
