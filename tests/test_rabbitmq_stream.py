"""The RabbitMQ consumer against the real broker, with Rasa's own PikaEventBroker publishing.

Events must reach a consumer one at a time and in the order Rasa published them, and a
consumer must keep reading after the broker restarts under it (it used to be able to end
up connected to nothing while its health check said ok).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.rabbitmq_stream import follow_rabbitmq
from tests.support.services import delete_rabbitmq_queues, require_service, restart_rabbitmq

URL = "amqp://guest:guest@127.0.0.1:5672/"


@pytest.fixture
def queue() -> Any:
    require_service("RabbitMQ", "127.0.0.1", 5672)
    name = f"stream_test_{uuid.uuid4().hex[:8]}"
    yield name
    delete_rabbitmq_queues(name)


async def rasa_broker(queue: str) -> Any:
    import rasa.shared.core.events  # noqa: F401  (Rasa's broker needs it imported)
    from rasa.core.brokers.pika import PikaEventBroker

    broker = PikaEventBroker(
        "127.0.0.1", "guest", "guest", queues=[queue], event_loop=asyncio.get_running_loop()
    )
    await broker.connect()
    return broker


@contextlib.asynccontextmanager
async def consuming(queue: str, on_event: Any) -> AsyncIterator[None]:
    """``follow_rabbitmq`` running on ``queue`` for the block; stopped and awaited after it."""
    stop = asyncio.Event()
    task = asyncio.create_task(follow_rabbitmq(URL, queue, on_event, stop))
    try:
        yield
    finally:
        stop.set()
        await task


def texts_recorder() -> tuple[list[str], Any]:
    """A consumer callback that keeps the text of each event it is given, in order."""
    seen: list[str] = []

    async def on_event(sender_id: str, event: dict[str, Any]) -> None:
        seen.append(event["text"])

    return seen, on_event


async def wait_until(condition: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)


def test_events_arrive_one_at_a_time_in_the_order_rasa_published_them(queue: str) -> None:
    seen: list[str] = []
    busy = {"now": 0, "most": 0}

    async def on_event(sender_id: str, event: dict[str, Any]) -> None:
        busy["now"] += 1
        busy["most"] = max(busy["most"], busy["now"])
        await asyncio.sleep(0.01 if len(seen) % 2 else 0.03)  # uneven work must not reorder
        seen.append(event["text"])
        busy["now"] -= 1

    async def scenario() -> None:
        broker = await rasa_broker(queue)
        texts = [f"m{n}" for n in range(30)]
        for text in texts:  # a backlog waiting before the consumer starts
            broker.publish({"sender_id": "s1", "event": "user", "text": text})
        await asyncio.sleep(0.5)
        async with consuming(queue, on_event):
            await wait_until(lambda: len(seen) >= len(texts))
        await broker.close()
        assert seen == texts
        assert busy["most"] == 1

    asyncio.run(scenario())


def test_a_running_consumer_keeps_reading_after_the_broker_restarts(queue: str) -> None:
    seen, on_event = texts_recorder()

    async def scenario() -> None:
        broker = await rasa_broker(queue)
        async with consuming(queue, on_event):
            broker.publish({"sender_id": "s1", "event": "user", "text": "before"})
            await wait_until(lambda: seen == ["before"])
            await asyncio.to_thread(restart_rabbitmq)
            broker.publish({"sender_id": "s1", "event": "user", "text": "after"})
            await wait_until(lambda: "after" in seen, timeout=60)
        await broker.close()
        assert seen == ["before", "after"]

    asyncio.run(scenario())


def test_a_message_that_is_not_a_rasa_event_is_dropped_and_the_next_one_still_arrives(queue: str) -> None:
    seen, on_event = texts_recorder()

    async def scenario() -> None:
        import aio_pika

        broker = await rasa_broker(queue)  # declares the queue and binds it
        connection = await aio_pika.connect(URL)
        channel = await connection.channel()
        for body in (b"not json", json.dumps({"no": "sender"}).encode()):
            await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue)
        await connection.close()
        broker.publish({"sender_id": "s1", "event": "user", "text": "real"})
        async with consuming(queue, on_event):
            await wait_until(lambda: seen == ["real"])
        await broker.close()
        assert seen == ["real"]

    asyncio.run(scenario())
