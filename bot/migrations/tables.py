"""Every feature's tables, gathered for the migrations: the one module that imports them all.

Features declare their tables next to their own code (on ``bot.db.Base``); nothing else in
the bot imports a module only so that its tables exist, because no process creates tables:
the migrations do. Alembic compares the migrations with this metadata (``python -m bot db
revision`` writes the next migration from the difference; ``tests/test_migrations.py``
fails while there is one), so a new module with tables must be listed here: the test
checks that every module defining a table is.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from bot.db import Base

TABLE_MODULES = (
    "bot.customers.models",
    "bot.customers.verification",
    "bot.handoff.models",
    "bot.handoff.desks.inbox.accounts",
    "bot.outbox",
    "bot.stream_cursors",
    "bot.metrics.store",
    "bot.channels.x_store",
    "bot.retention.audit",
    "bot.surveys.models",
)


def metadata() -> MetaData:
    """The shared metadata with every feature's tables registered."""
    for module in TABLE_MODULES:
        importlib.import_module(module)
    return Base.metadata
