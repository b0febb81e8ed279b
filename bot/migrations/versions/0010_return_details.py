"""Returns say what was sent back and why: ``returns.items``, ``reason`` and ``reason_note``.

Revision ID: 0010
Revises: 0009
Created: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

RETURN_COLUMNS = (
    ("items", sa.JSON()),
    ("reason", sa.String(length=30)),
    ("reason_note", sa.Text()),
)


def upgrade() -> None:
    for name, kind in RETURN_COLUMNS:
        op.add_column("returns", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("returns") as batch:
        for name, _ in reversed(RETURN_COLUMNS):
            batch.drop_column(name)
