"""Daily counters in our database (SQLite by default, PostgreSQL in production).

Counting is exactly-once: each event's key is stored in the same transaction as the
counters it moves, so a redelivered RabbitMQ message or a replayed broker row changes
nothing. Keys older than ``KEEP_KEYS_DAYS`` are dropped; redeliveries arrive within
minutes, not days.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Column, Integer, String, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.db import Base, Sessions
from bot.metrics.counting import counts_for, event_day, event_key

KEEP_KEYS_DAYS = 3


def _insert_for(session: Any) -> Any:
    """The dialect's INSERT with ON CONFLICT (SQLite >= 3.24 and PostgreSQL both have it)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
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
        counts = counts_for(event)
        if not counts:
            return False
        day, key = event_day(event), event_key(sender_id, event)
        with self.db.session() as session:
            insert = _insert_for(session)
            new_key = session.execute(
                insert(CountedEvent).values(key=key, day=day).on_conflict_do_nothing(index_elements=["key"])
            )
            if new_key.rowcount != 1:
                return False  # counted before (a redelivery), or right now by another consumer
            for name, label in counts:
                upsert = insert(DailyCount).values(day=day, name=name, label=label[:200], value=1)
                session.execute(
                    upsert.on_conflict_do_update(
                        index_elements=["day", "name", "label"],
                        set_={"value": DailyCount.__table__.c.value + 1},
                    )
                )
        return True

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
