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
from sqlalchemy.exc import IntegrityError

from bot.db import Base, Sessions
from bot.metrics.counting import counts_for, event_day, event_key

KEEP_KEYS_DAYS = 3


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
        """Count one event; False if it moves no counter or was counted before."""
        counts = counts_for(event)
        if not counts:
            return False
        day, key = event_day(event), event_key(sender_id, event)
        for attempt in range(3):  # a concurrent first insert of the same counter row: retry
            try:
                with self.db.session() as session:
                    if session.get(CountedEvent, key) is not None:
                        return False
                    session.add(CountedEvent(key=key, day=day))
                    for name, label in counts:
                        row = session.get(DailyCount, (day, name, label[:200]))
                        if row is None:
                            session.add(DailyCount(day=day, name=name, label=label[:200], value=1))
                        else:
                            row.value += 1
                return True
            except IntegrityError:
                if attempt == 2:
                    raise
        return False

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
