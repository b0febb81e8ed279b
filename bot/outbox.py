"""The durable outbox: messages to other systems, kept in the database until delivered.

Everything we send out of our own processes — Slack posts, replies to customers through
Rasa, X direct messages and tweets — is written here first (in the same transaction as
the state change that caused it) and delivered by an :class:`OutboxWorker`. An outage, a
5xx or a 429 only delays a delivery: the item is retried after ``Retry-After`` or an
exponential backoff and holds back the items behind it in the same *queue*, so one
conversation's messages never overtake each other. Other queues keep flowing.

Several processes may run workers on one table (two Rasa replicas each sending X
messages): a worker takes a short *lease* on an item before delivering it, so an item
is never sent by two workers at once, and a crashed worker's lease simply expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Integer, String, Text, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import Base

logger = logging.getLogger(__name__)


class OutboxItem(Base):
    """One delivery. ``dedupe_key`` (unique) makes enqueueing idempotent."""

    __tablename__ = "outbox"

    id = Column(Integer, primary_key=True)
    queue = Column(String(250), nullable=False, index=True)
    kind = Column(String(50), nullable=False)
    payload = Column(JSON, nullable=False)
    dedupe_key = Column(String(250), nullable=True, unique=True)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False)
    locked_until = Column(DateTime, nullable=True)
    last_error = Column(Text, nullable=True)
    created_at = Column(DateTime, nullable=False)
    delivered_at = Column(DateTime, nullable=True, index=True)


class RetryLater(Exception):
    """A delivery failed in a way that may succeed later (outage, rate limit, 5xx)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GiveUp(Exception):
    """A delivery the other side refused for good (e.g. a tweet over 280 characters).

    Retrying cannot help; the item is set aside with the reason in ``last_error`` (a
    dead letter an operator can inspect) instead of blocking its queue forever.
    """


@dataclass(frozen=True)
class OutboxRecord:
    id: int
    queue: str
    kind: str
    payload: dict[str, Any]
    attempts: int


def utcnow() -> datetime:
    """Naive UTC, the way the outbox stores times."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def enqueue(
    session: Session, queue: str, kind: str, payload: dict[str, Any], dedupe_key: str | None = None
) -> bool:
    """Add an item in the caller's transaction; False if ``dedupe_key`` was seen before."""
    now = utcnow()
    item = OutboxItem(
        queue=queue, kind=kind, payload=payload, dedupe_key=dedupe_key,
        attempts=0, next_attempt_at=now, created_at=now,
    )  # fmt: skip
    if dedupe_key is None:
        session.add(item)
        return True
    try:
        with session.begin_nested():
            session.add(item)
        return True
    except IntegrityError:
        return False


class Outbox:
    """Reading and settling the items of some queues (selected by name prefix)."""

    def __init__(self, sessions: Callable[[], contextlib.AbstractContextManager[Session]],
                 prefixes: Sequence[str]) -> None:  # fmt: skip
        self.sessions = sessions
        self.prefixes = tuple(prefixes)

    def _mine(self) -> Any:
        return or_(*(OutboxItem.queue.startswith(prefix) for prefix in self.prefixes))

    def take_due(self, limit: int = 50, lease: float = 60.0) -> list[OutboxRecord]:
        """Lease the head item of each of our queues whose next attempt is due, oldest first."""
        now = utcnow()
        with self.sessions() as session:
            heads = (
                select(func.min(OutboxItem.id))
                .where(OutboxItem.delivered_at.is_(None), self._mine())
                .group_by(OutboxItem.queue)
                .scalar_subquery()
            )
            rows = session.scalars(
                select(OutboxItem)
                .where(
                    OutboxItem.id.in_(heads),
                    OutboxItem.next_attempt_at <= now,
                    or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until < now),
                )
                .order_by(OutboxItem.id)
                .limit(limit)
            ).all()
            candidates = [OutboxRecord(r.id, r.queue, r.kind, dict(r.payload), r.attempts) for r in rows]
        taken = []
        for item in candidates:
            with self.sessions() as session:
                leased = session.execute(
                    update(OutboxItem)
                    .where(
                        OutboxItem.id == item.id,
                        OutboxItem.delivered_at.is_(None),
                        or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until < now),
                    )
                    .values(locked_until=now + timedelta(seconds=lease))
                    .execution_options(synchronize_session=False)
                )
                if leased.rowcount == 1:
                    taken.append(item)
        return taken

    def mark_delivered(self, item_id: int) -> None:
        with self.sessions() as session:
            item = session.get(OutboxItem, item_id)
            item.delivered_at, item.locked_until = utcnow(), None

    def mark_failed(self, item_id: int, error: str, retry_in: float) -> None:
        with self.sessions() as session:
            item = session.get(OutboxItem, item_id)
            item.attempts += 1
            item.last_error = error[:2000]
            item.next_attempt_at = utcnow() + timedelta(seconds=retry_in)
            item.locked_until = None

    def mark_dead(self, item_id: int, error: str) -> None:
        with self.sessions() as session:
            item = session.get(OutboxItem, item_id)
            item.attempts += 1
            item.delivered_at, item.locked_until = utcnow(), None
            item.last_error = ("gave up: " + error)[:2000]

    def pending_count(self) -> int:
        with self.sessions() as session:
            return session.scalar(
                select(func.count())
                .select_from(OutboxItem)
                .where(OutboxItem.delivered_at.is_(None), self._mine())
            )


Deliver = Callable[[OutboxRecord], Awaitable[None]]


def backoff_seconds(attempts: int, ceiling: float = 30.0) -> float:
    """1, 2, 4, … seconds, at most ``ceiling``: no hammering during an outage, and once the
    other side is back (a restarted Rasa, Slack after an incident) delivery resumes within
    half a minute."""
    return min(ceiling, 2.0 ** min(attempts, 16))


class OutboxWorker:
    """Delivers due items (each queue's head, queues in parallel) until stopped."""

    def __init__(self, outbox: Outbox, deliver: Deliver, interval: float = 0.2) -> None:
        self.outbox = outbox
        self.deliver = deliver
        self.interval = interval

    async def run_once(self) -> int:
        """Try every due queue head once; returns how many got through."""
        items = await asyncio.to_thread(self.outbox.take_due)
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
        except GiveUp as exc:
            logger.error(
                "outbox %s #%s (%s) refused for good, set aside: %s", item.queue, item.id, item.kind, exc
            )
            await asyncio.to_thread(self.outbox.mark_dead, item.id, str(exc))
            return False
        except RetryLater as exc:
            delay = exc.retry_after if exc.retry_after is not None else backoff_seconds(item.attempts)
            logger.warning(
                "outbox %s #%s (%s): %s; retry in %.1f s", item.queue, item.id, item.kind, exc, delay
            )
            await asyncio.to_thread(self.outbox.mark_failed, item.id, str(exc), delay)
            return False
        except Exception as exc:
            delay = backoff_seconds(item.attempts)
            logger.exception(
                "outbox %s #%s (%s) failed; retry in %.1f s", item.queue, item.id, item.kind, delay
            )
            await asyncio.to_thread(self.outbox.mark_failed, item.id, repr(exc), delay)
            return False
        await asyncio.to_thread(self.outbox.mark_delivered, item.id)
        return True
