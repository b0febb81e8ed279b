"""Delivers what the handoff tables queued, in order per queue, until it gets through.

A Slack outage, a 5xx or a 429 only delays a delivery: the item stays in the database,
is retried after ``Retry-After`` (or an exponential backoff) and holds back the items
behind it in the same queue, so a conversation's messages never arrive out of order.
Because the queue is in the database, a restarted relay picks up where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.customers import run_sync
from bot.handoff.rasa_api import RetryLater
from bot.handoff.store import HandoffStore, OutboxRecord

logger = logging.getLogger(__name__)

Deliver = Callable[[OutboxRecord], Awaitable[None]]


def backoff_seconds(attempts: int, ceiling: float = 300.0) -> float:
    """1, 2, 4, … seconds, at most ``ceiling``: quick recovery, no hammering during an outage."""
    return min(ceiling, 2.0 ** min(attempts, 16))


class OutboxWorker:
    def __init__(self, store: HandoffStore, deliver: Deliver, interval: float = 0.2) -> None:
        self.store = store
        self.deliver = deliver
        self.interval = interval

    async def run_once(self) -> int:
        """Try every due queue head once (queues in parallel); returns how many got through."""
        items = await run_sync(self.store.due_items)
        results = await asyncio.gather(*(self._attempt(item) for item in items))
        return sum(results)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                delivered = await self.run_once()
            except Exception:  # the database itself is unreachable: wait and try again
                logger.exception("outbox: cannot read the queue; retrying in 2 s")
                delivered = 0
                await asyncio.sleep(2)
            if not delivered:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.interval)

    async def _attempt(self, item: OutboxRecord) -> bool:
        try:
            await self.deliver(item)
        except RetryLater as exc:
            delay = exc.retry_after if exc.retry_after is not None else backoff_seconds(item.attempts)
            logger.warning(
                "outbox %s #%s (%s): %s; retry in %.1f s", item.queue, item.id, item.kind, exc, delay
            )
            await run_sync(self.store.mark_failed, item.id, str(exc), delay)
            return False
        except Exception as exc:
            delay = backoff_seconds(item.attempts)
            logger.exception(
                "outbox %s #%s (%s) failed; retry in %.1f s", item.queue, item.id, item.kind, delay
            )
            await run_sync(self.store.mark_failed, item.id, repr(exc), delay)
            return False
        await run_sync(self.store.mark_delivered, item.id)
        return True
