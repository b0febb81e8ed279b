"""Rasa's SQL tracker store, without re-reading a whole conversation twice per message.

Why: Rasa 3.6's ``SQLTrackerStore`` rebuilds the tracker from every event of the session
on each message (``retrieve``), then, to find what to publish to the event broker, reads
and rebuilds it a second time (``TrackerStore.stream_events``), and counts the stored rows
a third time to know what to insert. Profiled on the shipped bot that was ~3.4 ms per
message at turn 3 and grew with the conversation (a tracker read ~7 ms at turn 30).

This store keeps the trackers it built (a bounded LRU cache, each entry dropped after
``cache_idle_seconds`` without a message) and, on the next message of a conversation,
reads only the rows stored after the ones it already has. It remembers how many events
it saved, so the new events are known without a query, and hands them to the broker in
one batch (one commit with ``bot.event_broker.BatchedSQLEventBroker``).

It stays correct when it is not the only writer:

- another replica saved events of the conversation (a load balancer without stickiness):
  the rows after the cached ones are read and applied, in id order (the Redis lock store
  lets one replica at a time handle a conversation, so no row can appear below them);
- rows were deleted (``supportbot erase``, retention) or a new session started elsewhere:
  the count of rows no longer matches, and the tracker is rebuilt exactly as Rasa would;
- a message failed half-way (the tracker got events that were never saved): the cached
  tracker is dropped and rebuilt from the database.

Rows are written exactly as ``SQLTrackerStore`` writes them (same table, same columns), so
the export, erasure, metrics and retention code read them unchanged. A SQLite file is
opened with pooled connections in WAL mode (``bot.db.pooled_sqlite_engine``).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import func
from sqlalchemy.orm import sessionmaker

from bot.db import pooled_sqlite_engine

logger = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 500  # conversations kept in memory per Rasa process
DEFAULT_CACHE_IDLE_SECONDS = 900.0  # a conversation idle this long is read afresh


@dataclass
class _Cached:
    tracker: DialogueStateTracker
    saved: int  # events of ``tracker`` that are stored
    rows: int  # rows of this sender in the table (all sessions)
    last_id: int  # highest row id of this sender
    used_at: float


class IncrementalSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` that reads only new rows and publishes new events in one batch.

    Configured like ``type: SQL`` in endpoints.yml, plus ``cache_size`` and
    ``cache_idle_seconds`` (``cache_size: 0`` turns the cache off: every message then
    reads the session from the database, as Rasa does, and still publishes in one batch).
    """

    def __init__(
        self,
        domain: Domain | None = None,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
        cache_idle_seconds: float = DEFAULT_CACHE_IDLE_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, **kwargs)
        if self.engine.dialect.name == "sqlite" and self.engine.url.database:
            self.engine = pooled_sqlite_engine(self.engine.url)
            self.sessionmaker = sessionmaker(bind=self.engine)
        self.cache_size = int(cache_size)
        self.cache_idle_seconds = float(cache_idle_seconds)
        self._cache: OrderedDict[str, _Cached] = OrderedDict()

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The latest session's tracker, from the cache brought up to date, or from the table."""
        entry = self._fresh_entry(sender_id)
        with self.session_scope() as session:
            if entry is not None and self._catch_up(session, entry):
                self._cache.move_to_end(sender_id)
                entry.used_at = time.monotonic()
                return entry.tracker
            self._cache.pop(sender_id, None)
            return self._load(session, sender_id)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the events added since the tracker was read; publish them in one batch."""
        sender_id = tracker.sender_id
        entry = self._cache.get(sender_id)
        ours = entry is not None and entry.tracker is tracker
        with self.session_scope() as session:
            if ours:
                assert entry is not None
                new = list(itertools.islice(tracker.events, entry.saved, None))
            else:  # a tracker we did not hand out: Rasa's own rule (rows of the latest session)
                known = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).count()
                new = list(itertools.islice(tracker.events, known, None))
            if not new:
                return
            as_dicts = [event.as_dict() for event in new]  # once, for the broker and the rows
            self._publish(sender_id, as_dicts)
            rows = [self._row(sender_id, event, data) for event, data in zip(new, as_dicts, strict=True)]
            session.add_all(rows)
            session.flush()
            last_id = max(int(row.id) for row in rows)
            if not ours:
                total = session.query(func.count(self.SQLEvent.id)).filter_by(sender_id=sender_id).scalar()
            session.commit()
        logger.debug("stored %d events of %s", len(new), sender_id)
        if any(isinstance(event, SessionStarted) for event in new) and len(tracker.events) > len(new):
            # a new session began: Rasa reads only that session from now on, so do we
            self._cache.pop(sender_id, None)
        elif ours:
            assert entry is not None
            entry.saved, entry.rows, entry.last_id = len(tracker.events), entry.rows + len(rows), last_id
        elif known == 0:  # a new conversation (create_tracker): the tracker is all there is
            self._remember(sender_id, tracker, rows=int(total or 0), last_id=last_id)
        else:
            self._cache.pop(sender_id, None)

    def _fresh_entry(self, sender_id: str) -> _Cached | None:
        entry = self._cache.get(sender_id)
        if entry is None:
            return None
        stale = time.monotonic() - entry.used_at > self.cache_idle_seconds
        if stale or len(entry.tracker.events) != entry.saved:  # idle, or changed but never saved
            self._cache.pop(sender_id, None)
            return None
        return entry

    def _catch_up(self, session: Any, entry: _Cached) -> bool:
        """Apply rows stored by others since ``entry``; False if it must be rebuilt instead."""
        event = self.SQLEvent
        sender_id = entry.tracker.sender_id
        kept = (
            session.query(func.count(event.id))
            .filter(event.sender_id == sender_id, event.id <= entry.last_id)
            .scalar()
        )
        if kept != entry.rows:  # rows were deleted (erasure, retention)
            return False
        newer = (
            session.query(event.id, event.data)
            .filter(event.sender_id == sender_id, event.id > entry.last_id)
            .order_by(event.id)
            .all()
        )
        if not newer:
            return True
        events = [Event.from_parameters(json.loads(data)) for _, data in newer]
        if any(e is None or isinstance(e, SessionStarted) for e in events):
            return False  # a new session began elsewhere: read it as Rasa does
        for new_event in events:
            entry.tracker.update(new_event)
        entry.saved = len(entry.tracker.events)
        entry.rows += len(newer)
        entry.last_id = int(newer[-1][0])
        return True

    def _load(self, session: Any, sender_id: str) -> DialogueStateTracker | None:
        rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).all()
        if not rows or not self.domain:
            return None
        tracker = DialogueStateTracker.from_dict(
            sender_id, [json.loads(r.data) for r in rows], self.domain.slots
        )
        total = session.query(func.count(self.SQLEvent.id)).filter_by(sender_id=sender_id).scalar()
        self._remember(sender_id, tracker, rows=int(total or 0), last_id=max(int(r.id) for r in rows))
        return tracker

    def _remember(self, sender_id: str, tracker: DialogueStateTracker, *, rows: int, last_id: int) -> None:
        if self.cache_size <= 0:
            return
        self._cache[sender_id] = _Cached(tracker, len(tracker.events), rows, last_id, time.monotonic())
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _row(self, sender_id: str, event: Event, data: dict[str, Any]) -> Any:
        """One table row, exactly as ``SQLTrackerStore.save`` writes it (``data``: ``event.as_dict()``)."""
        return self.SQLEvent(
            sender_id=sender_id,
            type_name=event.type_name,
            timestamp=data.get("timestamp"),
            intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            action_name=data.get("name"),
            data=json.dumps(data),
        )

    def _publish(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        """Hand the new events to the broker before they are stored, as Rasa does.

        Why before: a crash between the two then loses nothing a consumer needs (the relay
        forwards the message; the consumers are idempotent if it is seen again).
        """
        if self.event_broker is None:
            return
        bodies = [{"sender_id": sender_id, **event} for event in events]
        publish_many = getattr(self.event_broker, "publish_many", None)
        if publish_many is not None:
            publish_many(bodies)
            return
        for body in bodies:
            self.event_broker.publish(body)
