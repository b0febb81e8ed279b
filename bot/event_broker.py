"""Rasa's SQL event broker, writing all the events of one message in one commit.

Why: Rasa's ``SQLEventBroker.publish`` opens a session and commits once per event; one
customer message produces ~6 events (the message, the actions, the bot's replies, the
listen), so the embedded default paid ~6 commits per message (7.2 ms of CPU per message
in the profile of bench/README.md). ``IncrementalSQLTrackerStore`` (bot/tracker_store.py)
hands a message's events to :meth:`BatchedSQLEventBroker.publish_many`: one transaction,
same table, same rows, in the same order, so the consumers (bot/event_stream.py) read it
unchanged.

On PostgreSQL the transaction also sends ``NOTIFY supportbot_events``: the relay and the
metrics ``LISTEN`` and wake at once instead of polling (delivered at commit, so a woken
consumer always finds the rows). On SQLite the consumers watch the file instead.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa.core.brokers.sql import SQLEventBroker
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from bot.db import pooled_sqlite_engine

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "supportbot_events"


class BatchedSQLEventBroker(SQLEventBroker):
    """``SQLEventBroker`` with :meth:`publish_many` (one commit) and a PostgreSQL NOTIFY."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite" and self.engine.url.database:
            self.engine = pooled_sqlite_engine(self.engine.url)  # WAL, pooled: see bot.db
            self.sessionmaker = sessionmaker(bind=self.engine)

    def publish(self, event: dict[str, Any]) -> None:
        """One event (Rasa calls this where it has no batch, e.g. ``rasa export``)."""
        self.publish_many([event])

    def publish_many(self, events: list[dict[str, Any]]) -> None:
        """Insert ``events`` in order, in one transaction."""
        if not events:
            return
        with self.session_scope() as session:
            session.add_all(
                [self.SQLBrokerEvent(sender_id=e.get("sender_id"), data=json.dumps(e)) for e in events]
            )
            if self.engine.dialect.name == "postgresql":
                session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
            session.commit()
