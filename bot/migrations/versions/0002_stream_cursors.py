"""One table for every stream reader's position: ``stream_cursors``.

The relay and metrics positions in the broker table (``handoff_cursors``) and the X
poller's newest mention / DM ids (``x_cursors``, kept as text) move into one table with
an integer position; X cursors are named ``x:<name>`` there, so no name can collide.

Revision ID: 0002
Revises: 0001
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

X_PREFIX = "x:"

handoff_cursors = sa.table("handoff_cursors", sa.column("name", sa.String), sa.column("position", sa.Integer))
x_cursors = sa.table("x_cursors", sa.column("name", sa.String), sa.column("value", sa.String))
stream_cursors = sa.table(
    "stream_cursors", sa.column("name", sa.String), sa.column("position", sa.BigInteger)
)


def upgrade() -> None:
    op.create_table(
        "stream_cursors",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="stream_cursors_pkey"),
    )
    op.execute(
        stream_cursors.insert().from_select(
            ["name", "position"], sa.select(handoff_cursors.c.name, handoff_cursors.c.position)
        )
    )
    op.execute(
        stream_cursors.insert().from_select(
            ["name", "position"],
            sa.select(sa.literal(X_PREFIX) + x_cursors.c.name, sa.cast(x_cursors.c.value, sa.BigInteger)),
        )
    )
    op.drop_table("handoff_cursors")
    op.drop_table("x_cursors")


def downgrade() -> None:
    op.create_table(
        "handoff_cursors",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="handoff_cursors_pkey"),
    )
    op.create_table(
        "x_cursors",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("name", name="x_cursors_pkey"),
    )
    is_x = stream_cursors.c.name.startswith(X_PREFIX)
    op.execute(
        handoff_cursors.insert().from_select(
            ["name", "position"], sa.select(stream_cursors.c.name, stream_cursors.c.position).where(~is_x)
        )
    )
    op.execute(
        x_cursors.insert().from_select(
            ["name", "value"],
            sa.select(
                sa.func.substr(stream_cursors.c.name, len(X_PREFIX) + 1),
                sa.cast(stream_cursors.c.position, sa.String),
            ).where(is_x),
        )
    )
    op.drop_table("stream_cursors")
