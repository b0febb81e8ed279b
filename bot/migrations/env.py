"""Alembic's environment: runs the migrations on the connection ``bot.migrations`` hands it.

There is no ``alembic.ini``: ``bot.migrations`` configures Alembic in code, opens the
connection (under a lock, so processes starting together migrate one at a time) and puts
it in ``config.attributes["connection"]``; the caller owns that connection's transaction.
"""

from __future__ import annotations

from alembic import context

from bot.migrations.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError(
        "run the migrations with `python -m bot db upgrade` (it configures Alembic for "
        "SUPPORTBOT_DATABASE_URL); the plain `alembic` command and offline SQL are not set up"
    )

context.configure(
    connection=connection,
    target_metadata=metadata(),
    # SQLite cannot ALTER most of a table: batch mode rebuilds it, so one migration runs on both.
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
