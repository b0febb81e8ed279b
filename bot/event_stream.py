"""Reading Rasa's conversation events as they happen, from its event broker.

Two consumers in the worker process follow the broker, each through :func:`consume` with
its own position: the handoff relay and the metrics. Rasa publishes every event it saves
(including the customer messages it records while a conversation is paused). Two kinds
of broker are followed:

- ``type: SQL`` (the embedded default): a table named ``events`` (id, sender_id, data),
  followed with a named cursor kept in our database (bot/stream_cursors.py), so a
  restart neither replays nor skips;
- ``type: pika`` (production): RabbitMQ. Rasa publishes persistent messages to a fanout
  exchange bound to every queue listed in ``event_broker.queues``; each consumer has its
  own durable queue, so events wait there while it (or the broker) restarts, and each is
  acknowledged only after it was handled.

Consumers make handling idempotent (the relay dedupes on enqueue, metrics remember what
they counted), so an event seen twice (a crash before the cursor was saved, a redelivered
message) is never counted or relayed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import yaml
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.db import run_sync, sqlite_file_pool
from bot.event_wakeups import TimerWakeups, wakeups_for
from bot.rabbitmq_stream import follow_rabbitmq
from bot.rasa_store_kinds import is_sql
from bot.settings import expand

logger = logging.getLogger(__name__)

CURSOR = "rasa-event-broker"
CURSOR_SAVE_SECONDS = 1.0
OnEvent = Callable[[str, dict[str, Any]], Awaitable[object]]
OnBatch = Callable[[list[tuple[str, dict[str, Any]]]], Awaitable[object]]


class EventSourceError(ValueError):
    """The endpoints file names no event broker a consumer can follow; says how to fix it."""


@dataclass(frozen=True)
class EventSource:
    """Where a consumer reads Rasa's events: an SQL table, or its RabbitMQ queue."""

    kind: str  # "sql" or "rabbitmq"
    url: str  # SQLAlchemy URL, or amqp:// URL
    queue: str | None = None  # RabbitMQ queue name


class CursorStore(Protocol):
    """Keeps how far a named consumer has read the SQL broker table (bot.stream_cursors)."""

    def position(self, name: str) -> int | None: ...

    def advance(self, name: str, position: int) -> None: ...


def event_source(endpoints_file: Path, queue: str | None = None) -> EventSource:
    """The event broker named in the endpoints file Rasa runs with, as a consumer reads it.

    ``queue``: the RabbitMQ queue this consumer owns; it must be one of the broker's
    ``queues`` (Rasa only publishes to those). None takes the first listed.
    """
    config: dict[str, Any] = yaml.safe_load(endpoints_file.read_text(encoding="utf-8")) or {}
    broker = config.get("event_broker") or {}
    kind = str(broker.get("type", "")).lower()
    if kind == "pika":
        return _rabbitmq(endpoints_file, broker, queue)
    if not is_sql("event_broker", broker):
        raise EventSourceError(
            f"{endpoints_file}: the handoff relay and the metrics service follow Rasa's events through "
            "its event broker; add `event_broker: {type: SQL, dialect: sqlite, db: .data/broker.db}` "
            "(see endpoints.yml) or a `type: pika` RabbitMQ broker (see endpoints.production.yml)"
        )
    dialect = broker.get("dialect", "sqlite")
    db = _expand(str(broker.get("db", "events.db")))
    if dialect == "sqlite":
        return EventSource("sql", f"sqlite:///{db}")
    user = _expand(str(broker.get("username", "")))
    password = _expand(str(broker.get("password", "")))
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = _expand(str(broker.get("url", "localhost")))
    port = broker.get("port")
    return EventSource("sql", f"{dialect}://{auth}{host}{':' + _expand(str(port)) if port else ''}/{db}")


def _rabbitmq(endpoints_file: Path, broker: dict[str, Any], wanted: str | None) -> EventSource:
    listed = broker.get("queues") or broker.get("queue") or []
    queues = [_expand(str(q)) for q in (listed if isinstance(listed, list) else [listed])]
    queues = [q for q in queues if q]
    if not queues:
        raise EventSourceError(
            f"{endpoints_file}: event_broker (pika) needs `queues: [handoff_relay, metrics]`: "
            "one queue per consumer"
        )
    queue = wanted or queues[0]
    if queue not in queues:
        raise EventSourceError(
            f"{endpoints_file}: RabbitMQ queue {queue!r} is not in event_broker.queues "
            f"({', '.join(queues)}); Rasa only publishes to the queues listed there: add it"
        )
    user = quote(_expand(str(broker.get("username", "guest"))), safe="")
    password = quote(_expand(str(broker.get("password", "guest"))), safe="")
    host = _expand(str(broker.get("url", "localhost")))
    port = _expand(str(broker.get("port", 5672)))
    return EventSource("rabbitmq", f"amqp://{user}:{password}@{host}:{port}/", queue)


def _expand(value: str) -> str:
    """Rasa's ``${VAR}`` syntax in endpoint files (an unset variable stays as written)."""
    return expand(value, strict=False)


class SQLEventStream:
    """The broker table, read in id order."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True, **_engine_options(url))
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _wait_for_writers)

    def read_after(self, position: int, limit: int = 500) -> list[tuple[int, str, dict[str, Any]]]:
        """Events with an id above ``position``; empty while Rasa has not created the table yet."""
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(
                    text(
                        "SELECT id, sender_id, data FROM events WHERE id > :position ORDER BY id LIMIT :limit"
                    ),
                    {"position": position, "limit": limit},
                ).all()
        except SQLAlchemyError as exc:
            if "no such table" in str(exc) or "does not exist" in str(exc):
                return []
            raise
        events = []
        for row_id, sender_id, data in rows:
            try:
                events.append((int(row_id), str(sender_id), json.loads(data)))
            except (TypeError, ValueError):
                logger.warning("event broker row %s is not JSON; skipped", row_id)
        return events


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):  # pooled: a connection per read was measurable (bot.db)
        return {"connect_args": {"check_same_thread": False, "timeout": 15}, **sqlite_file_pool()}
    return {"pool_pre_ping": True}


def _wait_for_writers(connection: Any, _record: Any) -> None:
    """Rasa writes this SQLite file while we read it: wait for its lock instead of failing."""
    connection.execute("PRAGMA busy_timeout=15000")


async def consume(
    source: EventSource,
    on_event: OnEvent,
    stop: asyncio.Event,
    *,
    cursor: str = CURSOR,
    cursors: CursorStore | None = None,
    interval: float = 0.2,
    on_batch: OnBatch | None = None,
) -> None:
    """Feed every event Rasa publishes to ``on_event``, once, until ``stop`` is set.

    ``on_batch``, if given, takes the events an SQL broker read returned, all at once and
    in order, instead of ``on_event`` (a consumer that can handle them in one transaction).

    The one way a consumer (the relay, the metrics) reads the broker, whichever it is:
    an SQL broker table is read from this consumer's own ``cursor`` kept in ``cursors``
    (woken by new rows where the database can tell, else polled every ``interval`` s);
    RabbitMQ is read from the consumer's own durable queue, ``source.queue``, and each
    message is acknowledged after ``on_event`` returns (``cursor`` and ``cursors`` are not
    used: the queue itself is the position).
    """
    if source.kind == "rabbitmq":
        if not source.queue:
            raise EventSourceError("a RabbitMQ consumer needs its own queue: see event_source(queue=...)")
        await follow_rabbitmq(source.url, source.queue, on_event, stop)
        return
    if cursors is None:
        raise EventSourceError(f"{source.url}: an SQL broker consumer needs a cursor store")
    await follow(
        SQLEventStream(source.url), cursors, on_event, stop, interval, cursor=cursor, on_batch=on_batch
    )


async def follow(
    stream: SQLEventStream,
    store: CursorStore,
    on_event: OnEvent,
    stop: asyncio.Event,
    interval: float = 0.2,
    cursor: str = CURSOR,
    on_batch: OnBatch | None = None,
) -> None:
    """Feed every new broker-table event to ``on_event`` until ``stop`` is set (see consume).

    ``cursor`` names this consumer's position in ``store`` (each consumer has its own).
    With nothing to read it waits for a sign of a write (bot/event_wakeups.py): a commit to
    the SQLite file, a PostgreSQL NOTIFY, else ``interval``.
    """
    position = await run_sync(store.position, cursor) or 0
    saved, saved_at = position, time.monotonic()
    wakeups = wakeups_for(stream.engine, interval)
    try:
        while not stop.is_set():
            try:
                batch = await run_sync(stream.read_after, position)
                if on_batch is None:
                    for row_id, sender_id, data in batch:
                        await on_event(sender_id, data)
                        position = row_id
                elif batch:
                    await on_batch([(sender_id, data) for _, sender_id, data in batch])
                    position = batch[-1][0]
                # The position is saved when the consumer catches up, and at least every
                # CURSOR_SAVE_SECONDS while busy: not one commit per batch. Consumers are
                # idempotent, so a crash only means events seen again, never lost.
                if position != saved and (not batch or time.monotonic() - saved_at >= CURSOR_SAVE_SECONDS):
                    await run_sync(store.advance, cursor, position)
                    saved, saved_at = position, time.monotonic()
                if batch:
                    continue
            except Exception:
                logger.exception("event stream: failed after position %s; retrying in 1 s", position)
                position = saved = await _saved_position(store, cursor, position)
                await asyncio.sleep(1)
                continue
            try:
                await wakeups.wait(stop)
            except Exception:  # e.g. the LISTEN connection dropped: the timer still works
                logger.exception("event stream: waiting for new events failed; polling every %s s", interval)
                wakeups.close()
                wakeups = TimerWakeups(interval)
    finally:
        wakeups.close()
        if position != saved:
            with contextlib.suppress(Exception):
                await run_sync(store.advance, cursor, position)


async def _saved_position(store: CursorStore, cursor: str, fallback: int) -> int:
    try:
        return await run_sync(store.position, cursor) or 0
    except SQLAlchemyError:
        return fallback
