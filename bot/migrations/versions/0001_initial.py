"""The schema as it was before migrations existed (every table ``create_all`` made).

A database from those days has some or all of these tables and no ``alembic_version``:
only the missing tables are created, so it is adopted with its rows (the processes of that
time created the tables of the modules they had imported: an action server alone never
made the metrics or X tables). PostgreSQL named its constraints itself, as ``bot.db``'s
naming convention does; SQLite left single-column UNIQUE constraints unnamed, so those
tables are rebuilt with the names (batch mode copies the rows), and a later migration can
drop or change a constraint by one name on both dialects.

Revision ID: 0001
Revises:
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tables() -> list[tuple[str, list[sa.SchemaItem], dict[str, list[str]]]]:
    """(table, columns and constraints, {index name: columns}), parents before children."""
    return [
        ("customers", [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=True),
            sa.Column("email", sa.String(length=320), nullable=True),
            sa.Column("plan", sa.String(length=100), nullable=True),
            sa.Column("devices", sa.JSON(), nullable=False),
            sa.Column("preferences", sa.JSON(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id", name="customers_pkey"),
        ], {"ix_customers_email": ["email"]}),
        ("identities", [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("customer_id", sa.Integer(), nullable=False),
            sa.Column("channel", sa.String(length=50), nullable=False),
            sa.Column("external_id", sa.String(length=200), nullable=False),
            sa.Column("handle", sa.String(length=200), nullable=True),
            sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="identities_customer_id_fkey",
                                    ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id", name="identities_pkey"),
            sa.UniqueConstraint("channel", "external_id", name="uq_identity_channel_id"),
        ], {}),
        ("orders", [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("number", sa.String(length=20), nullable=False),
            sa.Column("customer_id", sa.Integer(), nullable=False),
            sa.Column("status", sa.String(length=30), nullable=False),
            sa.Column("placed_on", sa.Date(), nullable=False),
            sa.Column("shipped_on", sa.Date(), nullable=True),
            sa.Column("delivered_on", sa.Date(), nullable=True),
            sa.Column("expected_on", sa.Date(), nullable=True),
            sa.Column("carrier", sa.String(length=50), nullable=True),
            sa.Column("tracking_number", sa.String(length=100), nullable=True),
            sa.Column("total_cents", sa.Integer(), nullable=False),
            sa.Column("currency", sa.String(length=3), nullable=False),
            sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="orders_customer_id_fkey",
                                    ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id", name="orders_pkey"),
            sa.UniqueConstraint("number", name="orders_number_key"),
        ], {}),
        ("order_items", [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("order_id", sa.Integer(), nullable=False),
            sa.Column("product", sa.String(length=200), nullable=False),
            sa.Column("quantity", sa.Integer(), nullable=False),
            sa.Column("unit_price_cents", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="order_items_order_id_fkey",
                                    ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id", name="order_items_pkey"),
        ], {}),
        ("returns", [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("order_id", sa.Integer(), nullable=False),
            sa.Column("status", sa.String(length=30), nullable=False),
            sa.Column("created_on", sa.Date(), nullable=False),
            sa.Column("refund_cents", sa.Integer(), nullable=False),
            sa.Column("refunded_on", sa.Date(), nullable=True),
            sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="returns_order_id_fkey",
                                    ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id", name="returns_pkey"),
        ], {}),
        ("conversations", [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("customer_id", sa.Integer(), nullable=False),
            sa.Column("channel", sa.String(length=50), nullable=False),
            sa.Column("sender_id", sa.String(length=200), nullable=True),
            sa.Column("started_at", sa.DateTime(), nullable=False),
            sa.Column("summary", sa.Text(), nullable=False),
            sa.Column("outcome", sa.String(length=30), nullable=False),
            sa.Column("handoff_reason", sa.Text(), nullable=True),
            sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="conversations_customer_id_fkey",
                                    ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id", name="conversations_pkey"),
        ], {}),
        ("handoffs", [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("conversation_id", sa.String(length=200), nullable=False),
            sa.Column("channel", sa.String(length=50), nullable=False),
            sa.Column("customer_id", sa.Integer(), nullable=True),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("status", sa.String(length=20), nullable=False),
            sa.Column("packet", sa.JSON(), nullable=False),
            sa.Column("relay_after", sa.Float(), nullable=False),
            sa.Column("desk_channel", sa.String(length=100), nullable=True),
            sa.Column("card_ts", sa.String(length=50), nullable=True),
            sa.Column("claimed_by", sa.String(length=100), nullable=True),
            sa.Column("claimed_by_name", sa.String(length=200), nullable=True),
            sa.Column("resolved_by_name", sa.String(length=200), nullable=True),
            sa.Column("followup_message", sa.Text(), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("claimed_at", sa.DateTime(), nullable=True),
            sa.Column("resolved_at", sa.DateTime(), nullable=True),
            sa.PrimaryKeyConstraint("id", name="handoffs_pkey"),
        ], {
            "ix_handoffs_card_ts": ["card_ts"],
            "ix_handoffs_conversation_id": ["conversation_id"],
            "ix_handoffs_status": ["status"],
        }),
        ("handoff_cursors", [
            sa.Column("name", sa.String(length=100), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("name", name="handoff_cursors_pkey"),
        ], {}),
        ("desk_messages", [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("ts", sa.String(length=50), nullable=False),
            sa.Column("thread_ts", sa.String(length=50), nullable=True),
            sa.Column("author", sa.String(length=200), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("blocks", sa.JSON(), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=True),
            sa.PrimaryKeyConstraint("id", name="desk_messages_pkey"),
            sa.UniqueConstraint("ts", name="desk_messages_ts_key"),
        ], {"ix_desk_messages_thread_ts": ["thread_ts"]}),
        ("outbox", [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("queue", sa.String(length=250), nullable=False),
            sa.Column("kind", sa.String(length=50), nullable=False),
            sa.Column("payload", sa.JSON(), nullable=False),
            sa.Column("dedupe_key", sa.String(length=250), nullable=True),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
            sa.Column("locked_until", sa.DateTime(), nullable=True),
            sa.Column("last_error", sa.Text(), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("delivered_at", sa.DateTime(), nullable=True),
            sa.PrimaryKeyConstraint("id", name="outbox_pkey"),
            sa.UniqueConstraint("dedupe_key", name="outbox_dedupe_key_key"),
        ], {"ix_outbox_delivered_at": ["delivered_at"], "ix_outbox_queue": ["queue"]}),
        ("metrics_daily", [
            sa.Column("day", sa.String(length=10), nullable=False),
            sa.Column("name", sa.String(length=50), nullable=False),
            sa.Column("label", sa.String(length=200), nullable=False),
            sa.Column("value", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("day", "name", "label", name="metrics_daily_pkey"),
        ], {}),
        ("metrics_counted_events", [
            sa.Column("key", sa.String(length=64), nullable=False),
            sa.Column("day", sa.String(length=10), nullable=False),
            sa.PrimaryKeyConstraint("key", name="metrics_counted_events_pkey"),
        ], {"ix_metrics_counted_events_day": ["day"]}),
        ("x_cursors", [
            sa.Column("name", sa.String(length=50), nullable=False),
            sa.Column("value", sa.String(length=40), nullable=False),
            sa.PrimaryKeyConstraint("name", name="x_cursors_pkey"),
        ], {}),
        ("x_seen_events", [
            sa.Column("key", sa.String(length=80), nullable=False),
            sa.Column("seen_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("key", name="x_seen_events_pkey"),
        ], {}),
        ("x_choices", [
            sa.Column("conversation_id", sa.String(length=200), nullable=False),
            sa.Column("options", sa.JSON(), nullable=False),
            sa.PrimaryKeyConstraint("conversation_id", name="x_choices_pkey"),
        ], {}),
    ]  # fmt: skip


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    for name, columns, indexes in _tables():
        if name not in existing:
            op.create_table(name, *columns)
            for index, index_columns in indexes.items():
                op.create_index(index, name, index_columns)
        elif bind.dialect.name == "sqlite" and _unnamed_unique_constraints(name):
            definition = sa.Table(name, sa.MetaData(), *columns)
            for index, index_columns in indexes.items():
                sa.Index(index, *(definition.c[column] for column in index_columns))
            with op.batch_alter_table(name, copy_from=definition, recreate="always"):
                pass


def _unnamed_unique_constraints(table: str) -> bool:
    return any(not unique["name"] for unique in sa.inspect(op.get_bind()).get_unique_constraints(table))


def downgrade() -> None:
    for name, _columns, _indexes in reversed(_tables()):
        op.drop_table(name)
