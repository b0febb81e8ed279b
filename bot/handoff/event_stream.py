"""Reading Rasa's conversation events as they happen, from its event broker.

Rasa publishes every event it saves (including the customer messages it records while a
conversation is paused) to the event broker. Two kinds are followed:

- ``type: SQL`` (the embedded default): a table named ``events`` (id, sender_id, data),
  followed with a cursor kept in the handoff database, so a restart neither replays nor
  skips;
- ``type: pika`` (production): RabbitMQ. Rasa publishes persistent messages to a fanout
  exchange and durable queues it declares, so events wait in the relay's queue while the
  relay (or the broker) restarts; each is acknowledged only after it was handled.

Either way what is relayed is deduplicated on enqueue, so an event seen twice (a crash
before the cursor was saved, a redelivered message) never doubles a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.customers import run_sync
from bot.handoff.store import HandoffStore

logger = logging.getLogger(__name__)

CURSOR = "rasa-event-broker"
OnEvent = Callable[[str, dict[str, Any]], Awaitable[object]]


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
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False, "timeout": 15}}
    return {"pool_pre_ping": True}


def _wait_for_writers(connection: Any, _record: Any) -> None:
    """Rasa writes this SQLite file while we read it: wait for its lock instead of failing."""
    connection.execute("PRAGMA busy_timeout=15000")


async def follow(
    stream: SQLEventStream, store: HandoffStore, on_event: OnEvent, stop: asyncio.Event, interval: float = 0.2
) -> None:
    """Feed every new broker event to ``on_event`` until ``stop`` is set."""
    position = await run_sync(store.cursor, CURSOR)
    while not stop.is_set():
        try:
            batch = await run_sync(stream.read_after, position)
            for row_id, sender_id, data in batch:
                await on_event(sender_id, data)
                position = row_id
            if batch:
                await run_sync(store.set_cursor, CURSOR, position)
                continue
        except Exception:
            logger.exception("event stream: failed after position %s; retrying in 1 s", position)
            position = await _saved_position(store, position)
            await asyncio.sleep(1)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def follow_rabbitmq(url: str, queue_name: str, on_event: OnEvent, stop: asyncio.Event) -> None:
    """Consume Rasa's events from a durable RabbitMQ queue until ``stop`` is set.

    ``connect_robust`` reconnects after a broker restart; unacknowledged messages are
    redelivered, so a failure while handling one only delays it.
    """
    import aio_pika

    while not stop.is_set():
        try:
            connection = await aio_pika.connect_robust(url, timeout=10)
        except Exception as exc:  # broker down at start-up: keep trying
            logger.warning("event stream: RabbitMQ unreachable (%s); retrying in 2 s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=2)
            continue
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=50)
            queue = await channel.declare_queue(queue_name, durable=True)

            async def handle(message: Any) -> None:
                async with message.process(requeue=True):
                    data = json.loads(message.body)
                    await on_event(str(data.get("sender_id")), data)

            await queue.consume(handle)
            logger.info("event stream: consuming RabbitMQ queue %r", queue_name)
            await stop.wait()
        return


async def _saved_position(store: HandoffStore, fallback: int) -> int:
    try:
        return await run_sync(store.cursor, CURSOR)
    except SQLAlchemyError:
        return fallback
