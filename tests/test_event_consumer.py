"""bot.event_stream.consume: the one way the worker's consumers read Rasa's events.

The relay and the metrics run in one process on the same broker; each must see every
event exactly once, through its own cursor (Rasa's SQL broker table on real SQLite) or its
own durable queue (Rasa's own Pika publisher on real RabbitMQ), and must not take the
other's events.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from rasa.core.brokers.sql import SQLEventBroker

from bot.customers import CustomerStore
from bot.event_stream import EventSource, EventSourceError, consume
from bot.stream_cursors import StreamCursors
from tests.support.services import delete_rabbitmq_queues, require_service

AMQP = "amqp://guest:guest@127.0.0.1:5672/"


async def consume_together(
    sources: dict[str, EventSource], seconds: float, **options: Any
) -> dict[str, list[str]]:
    """Run one consumer per name side by side for ``seconds``; what each saw, in order."""
    seen: dict[str, list[str]] = {name: [] for name in sources}
    stop = asyncio.Event()

    def collector(name: str) -> Any:
        async def on_event(sender_id: str, event: dict[str, Any]) -> None:
            seen[name].append(f"{sender_id}:{event['text']}")

        return on_event

    tasks = [
        asyncio.create_task(consume(source, collector(name), stop, cursor=name, **options))
        for name, source in sources.items()
    ]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
    return seen


def test_two_consumers_of_one_sql_broker_each_read_everything_once_from_their_own_cursor(
    tmp_path: Path, store: CustomerStore
) -> None:
    db = tmp_path / "broker.db"
    rasa = SQLEventBroker(dialect="sqlite", db=str(db))
    source = EventSource("sql", f"sqlite:///{db}")
    cursors = StreamCursors(store)
    for n in range(3):
        rasa.publish({"sender_id": "c1", "event": "user", "text": f"m{n}", "timestamp": 100.0 + n})
    both = {"relay": source, "metrics": source}

    first = asyncio.run(consume_together(both, 0.5, cursors=cursors, interval=0.05))
    assert first == {"relay": ["c1:m0", "c1:m1", "c1:m2"], "metrics": ["c1:m0", "c1:m1", "c1:m2"]}
    rasa.publish({"sender_id": "c2", "event": "user", "text": "m3", "timestamp": 104.0})
    only_metrics = asyncio.run(consume_together({"metrics": source}, 0.4, cursors=cursors, interval=0.05))
    assert only_metrics == {"metrics": ["c2:m3"]}  # a restart: nothing old again
    later = asyncio.run(consume_together(both, 0.4, cursors=cursors, interval=0.05))
    assert later == {"relay": ["c2:m3"], "metrics": []}  # the relay's cursor is its own


def test_an_sql_consumer_without_a_cursor_store_is_refused_with_the_reason(tmp_path: Path) -> None:
    source = EventSource("sql", f"sqlite:///{tmp_path / 'broker.db'}")

    async def run() -> None:
        await consume(source, lambda *_: asyncio.sleep(0), asyncio.Event())

    with pytest.raises(EventSourceError, match="cursor store"):
        asyncio.run(run())


def test_two_consumers_on_rabbitmq_each_read_everything_from_their_own_durable_queue() -> None:
    require_service("RabbitMQ", "127.0.0.1", 5672)
    from rasa.core.brokers.pika import PikaEventBroker

    relay_queue, metrics_queue = (f"{name}_test_{uuid.uuid4().hex[:8]}" for name in ("relay", "metrics"))
    sources = {"relay": EventSource("rabbitmq", AMQP, relay_queue),
               "metrics": EventSource("rabbitmq", AMQP, metrics_queue)}  # fmt: skip

    async def publish(texts: list[str]) -> None:
        broker = PikaEventBroker("127.0.0.1", "guest", "guest", queues=[relay_queue, metrics_queue])
        await broker.connect()
        for text in texts:
            broker.publish({"sender_id": "c1", "event": "user", "text": text})
        await asyncio.sleep(0.5)  # Rasa publishes in background tasks
        await broker.close()

    async def scenario() -> None:
        await publish(["m0", "m1"])
        seen = await consume_together(sources, 1.5)
        assert seen == {"relay": ["c1:m0", "c1:m1"], "metrics": ["c1:m0", "c1:m1"]}
        await publish(["m2"])  # the metrics are down; the message waits in their queue
        assert await consume_together({"relay": sources["relay"]}, 1.0) == {"relay": ["c1:m2"]}
        assert await consume_together(sources, 1.0) == {"relay": [], "metrics": ["c1:m2"]}

    try:
        asyncio.run(scenario())
    finally:
        delete_rabbitmq_queues(relay_queue, metrics_queue)
