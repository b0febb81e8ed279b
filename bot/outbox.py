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

Delivery guarantees (docs/security.md, "Delivery guarantees"):

- *Intent before sending.* Taking the lease also counts a *claim* (``claims``), in the
  same UPDATE, before anything is sent. An item taken again with ``claims > 0`` is
  :attr:`OutboxRecord.in_doubt`: an earlier attempt may have reached the other side
  (a crash, a timeout, an acknowledgement lost), and the deliverer must look at the
  destination for the item's :attr:`OutboxRecord.key` before sending again. (It used to
  look only when ``attempts > 0``, and a crash leaves ``attempts`` at 0.)
- *Bounded.* Each attempt has a time limit (``OUTBOX_ITEM_TIMEOUT``) and each item a
  number of attempts (``OUTBOX_MAX_ATTEMPTS``); then it becomes a *dead letter*:
  ``status = 'dead'``, never ``delivered_at``, out of its queue's way (the items behind it
  flow again), reported to ``on_dead`` (the relay posts a notice for the agents) and
  counted by :meth:`Outbox.dead_count` (the worker's ``/health``).
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
from bot.redact import redact_json

logger = logging.getLogger(__name__)

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


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
    # pending → delivered, or → dead (given up: attempts used up or refused for good).
    status = Column(String(20), nullable=False, default=PENDING, server_default=PENDING, index=True)
    # Deliveries started (counted when the lease is taken, before sending): > attempts after a crash.
    claims = Column(Integer, nullable=False, default=0, server_default="0")
    dead_at = Column(DateTime, nullable=True)


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
    claims: int = 0  # deliveries started before this one
    created_at: datetime | None = None

    @property
    def in_doubt(self) -> bool:
        """An earlier attempt may have got through: check the destination before sending again."""
        return self.claims > 0 or self.attempts > 0

    @property
    def key(self) -> str:
        """This delivery's idempotency key, stored with what it puts at the destination."""
        return f"outbox:{self.id}"


def utcnow() -> datetime:
    """Naive UTC, the way the outbox stores times."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def enqueue(
    session: Session, queue: str, kind: str, payload: dict[str, Any], dedupe_key: str | None = None
) -> bool:
    """Add an item in the caller's transaction; False if ``dedupe_key`` was seen before."""
    if queue.startswith("desk:"):  # quotes the customer to agents: no secrets at rest (bot.redact)
        payload = redact_json(payload)
    now = utcnow()
    item = OutboxItem(
        queue=queue, kind=kind, payload=payload, dedupe_key=dedupe_key,
        attempts=0, claims=0, status=PENDING, next_attempt_at=now, created_at=now,
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
                .where(OutboxItem.status == PENDING, self._mine())
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
            candidates = [
                OutboxRecord(r.id, r.queue, r.kind, dict(r.payload), r.attempts, r.claims, r.created_at)
                for r in rows
            ]
        taken = []
        for item in candidates:
            with self.sessions() as session:
                leased = session.execute(
                    update(OutboxItem)
                    .where(
                        OutboxItem.id == item.id,
                        OutboxItem.status == PENDING,
                        OutboxItem.claims == item.claims,  # nobody took it since we read it
                        or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until < now),
                    )
                    # The claim is recorded (committed) before anything is sent: intent first.
                    .values(locked_until=now + timedelta(seconds=lease), claims=OutboxItem.claims + 1)
                    .execution_options(synchronize_session=False)
                )
                if leased.rowcount == 1:
                    taken.append(item)
        return taken

    def mark_delivered(self, item_id: int) -> None:
        with self.sessions() as session:
            item = session.get(OutboxItem, item_id)
            item.status, item.delivered_at, item.locked_until = DELIVERED, utcnow(), None

    def mark_failed(self, item_id: int, error: str, retry_in: float) -> None:
        with self.sessions() as session:
            item = session.get(OutboxItem, item_id)
            item.attempts += 1
            item.last_error = error[:2000]
            item.next_attempt_at = utcnow() + timedelta(seconds=retry_in)
            item.locked_until = None

    def mark_dead(self, item_id: int, error: str) -> None:
        """Set the item aside for good: not delivered, out of its queue's way, counted as dead."""
        with self.sessions() as session:
            item = session.get(OutboxItem, item_id)
            item.attempts += 1
            item.status, item.dead_at, item.locked_until = DEAD, utcnow(), None
            item.last_error = ("gave up: " + error)[:2000]

    def _count(self, status: str) -> int:
        with self.sessions() as session:
            return session.scalar(
                select(func.count()).select_from(OutboxItem).where(OutboxItem.status == status, self._mine())
            )

    def pending_count(self) -> int:
        return self._count(PENDING)

    def dead_count(self) -> int:
        """Dead letters of our queues (for ``/health``; ``last_error`` of each says why)."""
        return self._count(DEAD)

    def requeue_dead(self) -> int:
        """Give every dead letter of our queues a fresh set of attempts (after fixing the cause)."""
        with self.sessions() as session:
            result = session.execute(
                update(OutboxItem)
                .where(OutboxItem.status == DEAD, self._mine())
                .values(status=PENDING, attempts=0, dead_at=None, next_attempt_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount or 0)


def all_queues(sessions: Callable[[], contextlib.AbstractContextManager[Session]]) -> Outbox:
    """Every queue of the table (relay, customers, X): e.g. the dead letters for ``/health``."""
    return Outbox(sessions, prefixes=("",))


Deliver = Callable[[OutboxRecord], Awaitable[None]]
OnDead = Callable[[OutboxRecord, str], Awaitable[None]]


def backoff_seconds(attempts: int, ceiling: float = 30.0) -> float:
    """1, 2, 4, … seconds, at most ``ceiling``: no hammering during an outage, and once the
    other side is back (a restarted Rasa, Slack after an incident) delivery resumes within
    half a minute."""
    return min(ceiling, 2.0 ** min(attempts, 16))


class OutboxWorker:
    """Delivers due items (each queue's head, queues in parallel) until stopped.

    ``max_attempts`` and ``timeout`` default to ``OUTBOX_MAX_ATTEMPTS`` and
    ``OUTBOX_ITEM_TIMEOUT``; ``on_dead(item, reason)`` is told of every dead letter.
    """

    def __init__(
        self,
        outbox: Outbox,
        deliver: Deliver,
        interval: float = 0.2,
        *,
        max_attempts: int | None = None,
        timeout: float | None = None,
        on_dead: OnDead | None = None,
    ) -> None:
        from bot.settings import settings  # the worker's process settings, read when it starts

        delivery = settings().delivery
        self.outbox = outbox
        self.deliver = deliver
        self.interval = interval
        self.max_attempts = max(1, max_attempts or delivery.max_attempts)
        self.timeout = timeout or delivery.item_timeout
        self.on_dead = on_dead

    async def run_once(self) -> int:
        """Try every due queue head once; returns how many got through."""
        # The lease outlives the attempt's time limit: no second worker while this one may still send.
        items = await asyncio.to_thread(self.outbox.take_due, 50, self.timeout * 2 + 5)
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
            await asyncio.wait_for(self.deliver(item), timeout=self.timeout)
        except GiveUp as exc:
            await self._dead(item, f"refused for good: {exc}")
            return False
        except TimeoutError:  # it may have got through: the next attempt checks first (in_doubt)
            await self._failed(item, f"no answer within {self.timeout:g} s (OUTBOX_ITEM_TIMEOUT)", None)
            return False
        except RetryLater as exc:
            await self._failed(item, str(exc), exc.retry_after)
            return False
        except Exception as exc:
            logger.exception("outbox %s #%s (%s) failed", item.queue, item.id, item.kind)
            await self._failed(item, repr(exc), None)
            return False
        await asyncio.to_thread(self.outbox.mark_delivered, item.id)
        return True

    async def _failed(self, item: OutboxRecord, error: str, retry_after: float | None) -> None:
        if item.attempts + 1 >= self.max_attempts:
            reason = f"{self.max_attempts} attempts failed (OUTBOX_MAX_ATTEMPTS), last: {error}"
            await self._dead(item, reason)
            return
        delay = retry_after if retry_after is not None else backoff_seconds(item.attempts)
        logger.warning(
            "outbox %s #%s (%s): %s; retry in %.1f s", item.queue, item.id, item.kind, error, delay
        )
        await asyncio.to_thread(self.outbox.mark_failed, item.id, error, delay)

    async def _dead(self, item: OutboxRecord, reason: str) -> None:
        logger.error("outbox %s #%s (%s) is a dead letter: %s", item.queue, item.id, item.kind, reason)
        await asyncio.to_thread(self.outbox.mark_dead, item.id, reason)
        if self.on_dead is not None:
            try:
                await asyncio.wait_for(self.on_dead(item, reason), timeout=self.timeout)
            except Exception:  # the dead letter stays counted and logged either way
                logger.exception("outbox %s #%s: reporting the dead letter failed", item.queue, item.id)
