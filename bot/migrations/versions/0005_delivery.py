"""Outbox delivery guarantees: status (pending/delivered/dead), claims, dead_at; inbox delivery keys.

``outbox.claims`` counts deliveries started (recorded before sending), so an item a crash
interrupted is known to be in doubt; ``status`` keeps dead letters apart from delivered
items (they used to be stamped ``delivered_at`` with "gave up:" in ``last_error``, and are
moved over here). ``desk_messages.delivery_key`` makes the local inbox's posts idempotent.
See bot/outbox.py.

Revision ID: 0005
Revises: 0004
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "outbox", sa.Column("status", sa.String(length=20), nullable=False, server_default="pending")
    )
    op.add_column("outbox", sa.Column("claims", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("outbox", sa.Column("dead_at", sa.DateTime(), nullable=True))
    op.create_index("ix_outbox_status", "outbox", ["status"])
    outbox = sa.table(
        "outbox",
        sa.column("status", sa.String),
        sa.column("delivered_at", sa.DateTime),
        sa.column("dead_at", sa.DateTime),
        sa.column("last_error", sa.Text),
        sa.column("attempts", sa.Integer),
        sa.column("claims", sa.Integer),
    )
    gave_up = outbox.c.last_error.like("gave up:%")
    op.execute(
        outbox.update()
        .where(outbox.c.delivered_at.is_not(None), gave_up)
        .values(status="dead", dead_at=outbox.c.delivered_at, delivered_at=None)
    )
    op.execute(outbox.update().where(outbox.c.delivered_at.is_not(None)).values(status="delivered"))
    op.execute(outbox.update().values(claims=outbox.c.attempts))  # what is known of earlier attempts
    op.add_column("desk_messages", sa.Column("delivery_key", sa.String(length=250), nullable=True))
    op.create_index("ix_desk_messages_delivery_key", "desk_messages", ["delivery_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_desk_messages_delivery_key", table_name="desk_messages")
    with op.batch_alter_table("desk_messages") as batch:
        batch.drop_column("delivery_key")
    outbox = sa.table(
        "outbox",
        sa.column("status", sa.String),
        sa.column("delivered_at", sa.DateTime),
        sa.column("dead_at", sa.DateTime),
    )
    op.execute(outbox.update().where(outbox.c.status == "dead").values(delivered_at=outbox.c.dead_at))
    op.drop_index("ix_outbox_status", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("dead_at")
        batch.drop_column("claims")
        batch.drop_column("status")
