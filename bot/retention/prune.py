"""The pruning job: delete what is older than business.yml ``retention:`` allows.

The worker runs :class:`Pruner` every ``retention.prune_every_hours`` (:func:`pruning_context`);
``python -m bot prune`` runs it once, for cron or by hand. What counts as old is decided in
bot/retention/policy.py; here rows are read and deleted:

- delivered outbox items, after ``delivered_outbox_days``;
- X event ids we handled (``x_seen_events``), after ``x_seen_events_days``;
- finished handoffs (never an open one) with their inbox thread and outbox queue, after ``handoffs_days``;
- conversation summaries and whole Rasa conversations (tracker store) whose *last* event is
  older than ``conversations_days``; a conversation with an open handoff stays;
- Rasa's SQL event broker rows after ``broker_events_days``, and only those every consumer
  (relay, metrics) has read.

Each run that removed something leaves an audit line (bot/retention/audit.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, or_, select

from bot.channels.x_store import XChoices, XSeenEvent
from bot.customers.models import Conversation
from bot.db import Database, run_sync
from bot.handoff.models import DeskMessage, Handoff, SlackPost
from bot.handoff.states import ACTIVE
from bot.handoff.store import desk_queue
from bot.outbox import OutboxItem, utcnow
from bot.retention import rasa_tables
from bot.retention.audit import record
from bot.retention.policy import RetentionSettings, prunable_prefix, retention_settings, stale_conversations
from bot.retention.rasa_tables import RasaStores, rasa_engine, rasa_stores
from bot.stream_cursors import StreamCursor

logger = logging.getLogger(__name__)

# The consumers that follow the SQL broker table, each with its own cursor (bot/event_stream.py,
# bot/metrics/service.py): no row goes before all of them have read it.
BROKER_READERS = ("rasa-event-broker", "metrics")


class Pruner:
    """Prunes one installation: our database and Rasa's SQL stores. One public method: :meth:`prune`."""

    def __init__(self, database_url: str, stores: RasaStores, settings: RetentionSettings) -> None:
        self.db = Database(database_url)
        self.stores = stores
        self.settings = settings

    def prune(self, now: datetime | None = None) -> dict[str, int]:
        """Delete everything old (``now``: naive UTC, default the current time); rows removed per table."""
        now = now or utcnow()
        counts: dict[str, int] = {}

        def add(name: str, removed: int) -> None:
            counts[name] = counts.get(name, 0) + removed

        delivered = self.settings.cutoff("delivered_outbox", now)
        seen = self.settings.cutoff("x_seen_events", now)
        conversations = self.settings.cutoff("conversations", now)
        with self.db.session() as session:
            if delivered is not None:
                add(
                    "outbox",
                    _rows(session.execute(delete(OutboxItem).where(OutboxItem.delivered_at < delivered))),
                )
            if seen is not None:
                add(
                    "x_seen_events",
                    _rows(session.execute(delete(XSeenEvent).where(XSeenEvent.seen_at < seen))),
                )
            if conversations is not None:
                old = delete(Conversation).where(Conversation.started_at < conversations)
                add("conversations", _rows(session.execute(old)))
            for name, removed in self._prune_handoffs(session, now).items():
                add(name, removed)
            protected = set(
                session.scalars(select(Handoff.conversation_id).where(Handoff.status.in_(ACTIVE)))
            )
            positions = [
                row.position
                for row in session.scalars(select(StreamCursor).where(StreamCursor.name.in_(BROKER_READERS)))
            ]
        gone = self._prune_trackers(conversations, protected, counts)
        if gone:
            with self.db.session() as session:
                add(
                    "x_choices",
                    _rows(session.execute(delete(XChoices).where(XChoices.conversation_id.in_(gone)))),
                )
        read_up_to = min(positions) if positions else None
        add("rasa_broker_events", self._prune_broker(self.settings.cutoff("broker_events", now), read_up_to))
        counts = {name: count for name, count in counts.items() if count}
        if counts:
            with self.db.session() as session:
                logger.info("retention: %s", record(session, "prune", None, counts))
        return counts

    def _prune_handoffs(self, session: Any, now: datetime) -> dict[str, int]:
        cutoff = self.settings.cutoff("handoffs", now)
        if cutoff is None:
            return {}
        finished = session.execute(
            select(Handoff.id, Handoff.card_ts).where(
                ~Handoff.status.in_(ACTIVE), func.coalesce(Handoff.resolved_at, Handoff.created_at) < cutoff
            )
        ).all()
        if not finished:
            return {}
        ids = [row.id for row in finished]
        cards = [row.card_ts for row in finished if row.card_ts]
        counts = {"outbox": 0, "desk_messages": 0, "slack_posts": 0}
        counts["outbox"] = _rows(
            session.execute(delete(OutboxItem).where(OutboxItem.queue.in_(map(desk_queue, ids))))
        )
        if cards:
            thread = or_(DeskMessage.ts.in_(cards), DeskMessage.thread_ts.in_(cards))
            counts["desk_messages"] = _rows(session.execute(delete(DeskMessage).where(thread)))
            posts = or_(SlackPost.ts.in_(cards), SlackPost.thread_ts.in_(cards))
            counts["slack_posts"] = _rows(session.execute(delete(SlackPost).where(posts)))
        counts["handoffs"] = _rows(session.execute(delete(Handoff).where(Handoff.id.in_(ids))))
        return counts

    def _prune_trackers(
        self, cutoff: datetime | None, protected: set[str], counts: dict[str, int]
    ) -> list[str]:
        if cutoff is None or self.stores.tracker_url is None:
            return []
        with rasa_engine(self.stores.tracker_url).begin() as connection:
            stale = stale_conversations(rasa_tables.last_event_times(connection), cutoff, protected)
            removed = rasa_tables.delete_conversations(connection, stale)
        counts["rasa_tracker_events"] = counts.get("rasa_tracker_events", 0) + removed
        counts["rasa_conversations"] = counts.get("rasa_conversations", 0) + len(stale)
        return stale

    def _prune_broker(self, cutoff: datetime | None, read_up_to: int | None) -> int:
        if cutoff is None or self.stores.broker_url is None:
            return 0
        removed, after = 0, 0
        with rasa_engine(self.stores.broker_url).begin() as connection:
            while True:
                rows = rasa_tables.broker_rows(connection, after)
                last = prunable_prefix(rows, cutoff, read_up_to)
                if last is None:
                    return removed
                removed += rasa_tables.delete_broker_through(connection, last)
                if last != rows[-1][0]:
                    return removed
                after = last


def _rows(result: Any) -> int:
    return int(result.rowcount or 0)


def pruner(database_url: str, endpoints: Path, data_directory: Path) -> Pruner:
    """The pruner of the installation whose Rasa runs with ``endpoints``."""
    return Pruner(database_url, rasa_stores(endpoints, data_directory), retention_settings())


def pruning_context(job: Pruner) -> Callable[[Any], AsyncIterator[None]]:
    """An aiohttp ``cleanup_ctx`` running ``job`` now and every ``prune_every_hours`` until shutdown."""

    async def background(_app: Any) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(_every(job, job.settings.prune_every_hours * 3600.0, stop))
        yield
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout=10)

    return background


async def _every(job: Pruner, seconds: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await run_sync(job.prune)
        except Exception:  # pruning must never take the worker down; it tries again next time
            logger.exception("retention: pruning failed; next attempt in %.0f s", seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
