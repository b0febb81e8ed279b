"""An SQL-broker consumer wakes on new events (SQLite file change, PostgreSQL NOTIFY), not a timer.

Each test follows a real broker table with a polling interval of 30 s: an event that arrives
within a second can only have been noticed by the wake-up. An idle consumer runs no queries.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from rasa.core.brokers.sql import SQLEventBroker
from sqlalchemy import event

from bot import event_wakeups
from bot.customers import CustomerStore
from bot.event_broker import BatchedSQLEventBroker
from bot.event_stream import SQLEventStream, follow
from bot.stream_cursors import StreamCursors

NO_TIMER = 30.0


async def _arrival_seconds(stream: SQLEventStream, cursors: StreamCursors, publish: Any) -> tuple[float, int]:
    """Seconds from publishing one event (after the consumer went idle) to seeing it; idle queries."""
    seen = asyncio.Event()
    stop = asyncio.Event()
    queries: list[str] = []
    event.listen(stream.engine, "before_cursor_execute", lambda *args: queries.append(str(args[2])))

    async def on_event(_sender: str, _event: dict[str, Any]) -> None:
        seen.set()

    task = asyncio.create_task(follow(stream, cursors, on_event, stop, interval=NO_TIMER, cursor="w"))
    await asyncio.sleep(0.8)  # idle: the first read found nothing
    idle_queries = len([q for q in queries if "FROM events" in q])
    await asyncio.sleep(0.8)
    idle_queries = len([q for q in queries if "FROM events" in q]) - idle_queries
    started = time.monotonic()
    await asyncio.get_running_loop().run_in_executor(None, publish)
    await asyncio.wait_for(seen.wait(), timeout=NO_TIMER / 2)
    arrival = time.monotonic() - started
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    return arrival, idle_queries


def _event() -> dict[str, Any]:
    return {"sender_id": "c1", "event": "user", "text": "hello?", "timestamp": time.time()}


def test_a_sqlite_consumer_wakes_on_the_commit_and_runs_no_queries_while_idle(
    tmp_path: Path, store: CustomerStore
) -> None:
    db = tmp_path / "broker.db"
    broker = BatchedSQLEventBroker(dialect="sqlite", db=str(db))
    stream = SQLEventStream(f"sqlite:///{db}")
    arrival, idle_queries = asyncio.run(
        _arrival_seconds(stream, StreamCursors(store), lambda: broker.publish_many([_event()]))
    )
    assert arrival < 0.5
    assert idle_queries == 0


def test_rasas_own_sqlite_broker_wakes_the_consumer_too(tmp_path: Path, store: CustomerStore) -> None:
    db = tmp_path / "broker.db"
    broker = SQLEventBroker(dialect="sqlite", db=str(db))  # `type: SQL` in an older endpoints file
    stream = SQLEventStream(f"sqlite:///{db}")
    arrival, _ = asyncio.run(_arrival_seconds(stream, StreamCursors(store), lambda: broker.publish(_event())))
    assert arrival < 0.5


def test_a_postgres_consumer_wakes_on_notify(empty_postgres_url: str, store: CustomerStore) -> None:
    broker = BatchedSQLEventBroker(dialect="postgresql", host=empty_postgres_url)
    stream = SQLEventStream(empty_postgres_url)
    arrival, idle_queries = asyncio.run(
        _arrival_seconds(stream, StreamCursors(store), lambda: broker.publish_many([_event()]))
    )
    assert arrival < 0.5
    assert idle_queries == 0


def test_without_a_notify_the_safety_read_still_delivers(
    empty_postgres_url: str, store: CustomerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_wakeups, "SAFETY_SECONDS", 1.0)
    broker = SQLEventBroker(dialect="postgresql", host=empty_postgres_url)  # Rasa's: sends no NOTIFY
    stream = SQLEventStream(empty_postgres_url)
    arrival, _ = asyncio.run(_arrival_seconds(stream, StreamCursors(store), lambda: broker.publish(_event())))
    assert arrival < 2.5
