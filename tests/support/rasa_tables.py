"""Rasa's own tables for retention and erasure tests, made with Rasa's own table definitions.

The tracker store's and the SQL event broker's ``events`` tables are created from Rasa's
SQLAlchemy classes (so the columns are exactly Rasa 3.6's), then filled with plain rows
carrying whatever timestamps a test needs (backdated conversations).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import create_engine, inspect, text


def _tables() -> tuple[Any, Any]:
    from rasa.core.brokers.sql import SQLEventBroker
    from rasa.core.tracker_store import SQLTrackerStore

    return SQLTrackerStore.SQLEvent.__table__, SQLEventBroker.SQLBrokerEvent.__table__


def create_tracker_table(url: str) -> None:
    """A new, empty tracker ``events`` table (replacing one another test left, e.g. the broker's,
    which has the same name and other columns)."""
    drop_events_table(url)
    engine = create_engine(url)
    _tables()[0].create(engine)
    engine.dispose()


def create_broker_table(url: str) -> None:
    engine = create_engine(url)
    _tables()[1].create(engine, checkfirst=True)
    engine.dispose()


def drop_events_table(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS events"))
    engine.dispose()


def user_event(text_: str, timestamp: float, channel: str = "rest") -> dict[str, Any]:
    return {"event": "user", "text": text_, "timestamp": timestamp, "input_channel": channel,
            "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}}  # fmt: skip


def add_tracker_events(url: str, sender: str, events: list[dict[str, Any]]) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for item in events:
            connection.execute(
                text(
                    "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                    "VALUES (:sender, :type, :timestamp, NULL, NULL, :data)"
                ),
                {
                    "sender": sender,
                    "type": item["event"],
                    "timestamp": item["timestamp"],
                    "data": json.dumps(item),
                },
            )
    engine.dispose()


def add_broker_events(url: str, sender: str, events: list[dict[str, Any]]) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for item in events:
            connection.execute(
                text("INSERT INTO events (sender_id, data) VALUES (:sender, :data)"),
                {"sender": sender, "data": json.dumps(item)},
            )
    engine.dispose()


def broker_ids(url: str) -> list[int]:
    engine = create_engine(url)
    with engine.connect() as connection:
        ids = [int(row[0]) for row in connection.execute(text("SELECT id FROM events ORDER BY id"))]
    engine.dispose()
    return ids


def tracker_senders(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id")).all()
    engine.dispose()
    return {str(sender): int(count) for sender, count in rows}


def every_value(url: str) -> list[tuple[str, str, str]]:
    """(table, column, value as text) of every cell of every table in the database, Rasa's included."""
    engine = create_engine(url)
    found: list[tuple[str, str, str]] = []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            result = connection.execute(text(f'SELECT * FROM "{table}"'))
            columns = list(result.keys())
            for row in result:
                found += [
                    (table, column, str(value))
                    for column, value in zip(columns, row, strict=True)
                    if value is not None
                ]
    engine.dispose()
    return found


def leftovers(url: str, needles: list[str]) -> list[tuple[str, str, str]]:
    """Cells anywhere in the database that contain one of ``needles`` (case-insensitive)."""
    lowered = [needle.lower() for needle in needles]
    return [cell for cell in every_value(url) if any(needle in cell[2].lower() for needle in lowered)]
