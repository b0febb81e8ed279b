"""Reading Rasa's events from a consumer's own durable RabbitMQ queue (production broker).

Two rules make it lossless and ordered, each learnt from a failure:

- **One message at a time, in the order Rasa published them.** The relay puts a customer's
  messages into the Slack thread in that order, and a restarted consumer receives its whole
  backlog at once: handled concurrently, the backlog raced itself (the metrics consumer lost
  one of four customer messages that way; see ``bot/metrics/store.py``). Messages are
  prefetched for speed but handed to ``on_event`` sequentially.
- **Any broker failure starts a fresh session.** A broker that is down at start-up, restarts
  while we declare our queue, or drops the connection later must never leave a consumer that
  looks healthy but reads nothing. We reconnect ourselves instead of relying on
  ``connect_robust``'s channel restore, and a message is acknowledged only after
  ``on_event`` returned, so what was in flight is delivered again (consumers are idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

OnEvent = Callable[[str, dict[str, Any]], Awaitable[object]]
PREFETCH = 50
RECONNECT_SECONDS = 2.0
FAILED_EVENT_PAUSE_SECONDS = 1.0  # a handler that keeps failing must not spin the CPU


async def follow_rabbitmq(url: str, queue_name: str, on_event: OnEvent, stop: asyncio.Event) -> None:
    """Feed every event in ``queue_name`` to ``on_event``, in order, until ``stop`` is set."""
    while not stop.is_set():
        try:
            await _session(url, queue_name, on_event, stop)
        except Exception as exc:  # down, restarting, or dropped us: start over
            logger.warning(
                "event stream: RabbitMQ queue %r unavailable (%s: %s); reconnecting in %.0f s",
                queue_name, type(exc).__name__, exc, RECONNECT_SECONDS,
            )  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=RECONNECT_SECONDS)


async def _session(url: str, queue_name: str, on_event: OnEvent, stop: asyncio.Event) -> None:
    """One connection: declare the queue, then handle messages one by one until stop or failure."""
    import aio_pika

    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        queue = await channel.declare_queue(queue_name, durable=True)
        arrived: asyncio.Queue[Any] = asyncio.Queue()
        await queue.consume(arrived.put)
        logger.info("event stream: consuming RabbitMQ queue %r", queue_name)
        while not stop.is_set():
            if connection.is_closed or channel.is_closed:
                raise ConnectionError("the broker closed the connection")
            try:
                message = await asyncio.wait_for(arrived.get(), timeout=1.0)
            except TimeoutError:
                continue
            await _handle(message, on_event)
    # Leaving the block closes the connection: prefetched, unacknowledged messages go back
    # to the queue for the next session.


async def _handle(message: Any, on_event: OnEvent) -> None:
    try:
        data = json.loads(message.body)
        sender_id = str(data["sender_id"])
    except (ValueError, KeyError, TypeError):
        logger.warning("event stream: message %s is not a Rasa event; dropped", message.delivery_tag)
        await message.ack()
        return
    try:
        async with message.process(requeue=True):
            await on_event(sender_id, data)
    except Exception:
        logger.exception(
            "event stream: handling an event of %s failed; it will be delivered again", sender_id
        )
        await asyncio.sleep(FAILED_EVENT_PAUSE_SECONDS)
