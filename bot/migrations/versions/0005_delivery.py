"""Outbox delivery guarantees (attempt caps, dead letters).

Revision ID: 0005
Revises: 0004
Created: 2026-12-01
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the feature that needs it


def downgrade() -> None:
    pass
