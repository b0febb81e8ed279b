"""Daily counters in our database (SQLite by default, PostgreSQL in production).

Counting is exactly-once: each event's key is stored in the same transaction as the
counters it moves, so a redelivered RabbitMQ message or a replayed broker row changes
nothing. Keys older than ``KEEP_KEYS_DAYS`` are dropped; redeliveries arrive within
minutes, not days.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Column, Integer, String, delete, select, text

from bot.db import Base, Sessions
from bot.metrics.counting import counts_for, event_day, event_key

KEEP_KEYS_DAYS = 3


def _require_on_conflict(session: Any) -> None:
    """Refuse a database without INSERT … ON CONFLICT (SQLite >= 3.24 and PostgreSQL have it)."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise RuntimeError(f"metrics need SQLite or PostgreSQL, not {dialect}; set SUPPORTBOT_DATABASE_URL")


class DailyCount(Base):
    __tablename__ = "metrics_daily"

    day = Column(String(10), primary_key=True)  # YYYY-MM-DD (UTC)
    name = Column(String(50), primary_key=True)
    label = Column(String(200), primary_key=True)
    value = Column(Integer, nullable=False, default=0)


class CountedEvent(Base):
    __tablename__ = "metrics_counted_events"

    key = Column(String(64), primary_key=True)
    day = Column(String(10), nullable=False, index=True)


# Plain SQL that SQLite (>= 3.24) and PostgreSQL both run. Why not the dialects' insert():
# its ON CONFLICT statements were compiled anew for every event (SQLAlchemy 1.4 does not
# cache them), a third of the worker's Python time per message in a py-spy profile.
_NEW_KEY = text(
    f"INSERT INTO {CountedEvent.__tablename__} (key, day) VALUES (:key, :day) ON CONFLICT (key) DO NOTHING"
)
_COUNT = text(
    f"INSERT INTO {DailyCount.__tablename__} (day, name, label, value) VALUES (:day, :name, :label, 1) "
    f"ON CONFLICT (day, name, label) DO UPDATE SET value = {DailyCount.__tablename__}.value + 1"
)


class MetricsStore:
    """Record events and read the counters back."""

    def __init__(self, db: Sessions) -> None:
        self.db = db  # bot.db.Database (a CustomerStore on the same database works too)

    def record(self, sender_id: str, event: dict[str, Any]) -> bool:
        """Count one event; False if it moves no counter or was counted before.

        Both statements are atomic in the database (INSERT … ON CONFLICT), so consumers
        handling events at the same time never lose an increment. The ORM's read-then-write
        (``row.value += 1``) did: 40 events recorded by 8 threads on PostgreSQL left the
        counter at 8 (measured), which is how a metrics-consumer restart, delivering its
        backlog at once, lost a customer message.
        """
        return self.record_many([(sender_id, event)]) == 1

    def record_many(self, events: list[tuple[str, dict[str, Any]]]) -> int:
        """Count several events in one transaction; how many moved a counter (see :meth:`record`).

        Why: the consumer reads Rasa's events in batches (a message is ~6 events); one
        commit per batch instead of one per counted event took most of the worker's CPU
        per message off (bench/README.md).
        """
        counted = 0
        with self.db.session() as session:
            _require_on_conflict(session)
            for sender_id, event in events:
                counts = counts_for(event)
                if not counts:
                    continue
                day, key = event_day(event), event_key(sender_id, event)
                if session.execute(_NEW_KEY, {"key": key, "day": day}).rowcount != 1:
                    continue  # counted before (a redelivery), or right now by another consumer
                session.execute(
                    _COUNT, [{"day": day, "name": n, "label": label[:200]} for n, label in counts]
                )
                counted += 1
        return counted

    def daily(self, since: date) -> dict[str, dict[str, dict[str, int]]]:
        """``{day: {name: {label: value}}}`` for days from ``since`` on."""
        result: dict[str, dict[str, dict[str, int]]] = {}
        with self.db.session() as session:
            rows = session.execute(select(DailyCount).where(DailyCount.day >= since.isoformat())).scalars()
            for row in rows:
                result.setdefault(row.day, {}).setdefault(row.name, {})[row.label] = row.value
        return result

    def totals(self) -> dict[tuple[str, str], int]:
        """All-time ``{(name, label): value}``."""
        totals: dict[tuple[str, str], int] = {}
        with self.db.session() as session:
            for row in session.execute(select(DailyCount)).scalars():
                totals[(row.name, row.label)] = totals.get((row.name, row.label), 0) + row.value
        return totals

    def forget_old_keys(self, today: date) -> None:
        cutoff = (today - timedelta(days=KEEP_KEYS_DAYS)).isoformat()
        with self.db.session() as session:
            session.execute(delete(CountedEvent).where(CountedEvent.day < cutoff))
