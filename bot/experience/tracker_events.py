"""Everything the report reads from storage, and nothing else (the only I/O of bot/experience).

- Rasa's tracker store (``events`` table, SQL; its URL from the endpoints file through
  :func:`bot.retention.rasa_tables.rasa_stores`): every event of each sender that was active
  in the window, grouped per sender in timestamp order. A tracker store Rasa has not
  created yet reads as empty; one that is not SQL cannot be measured (an error says so).
- Our database (bot/db.py): the handoffs of those senders and the ones waiting right now
  (bot/handoff/models.py), the survey rows asked in the window (bot/surveys/models.py),
  and the customer identities (bot/customers/models.py) so that one customer writing on
  two channels is one customer when we look for a recontact.

All SQL is parameterised; the rows become frozen records with aware UTC times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import SQLAlchemyError

from bot.customers.models import Identity
from bot.db import engine as our_engine
from bot.experience.conversations import HandoffRow
from bot.experience.periods import as_utc
from bot.handoff.models import Handoff
from bot.handoff.states import HandoffStatus
from bot.retention.rasa_tables import BATCH, decoded_event, missing_table, rasa_engine, rasa_stores
from bot.surveys.models import SurveyRequest

# Events this long before the window are read too, so a conversation that began just
# before it is seen whole (and is then left out, as it started outside the window).
LOOKBEHIND = timedelta(days=1)


class TrackerStoreError(RuntimeError):
    """The tracker store cannot be read for metrics (not SQL)."""


@dataclass(frozen=True)
class SurveyRow:
    """One ``survey_requests`` row (times aware UTC; ``intents`` a tuple)."""

    conversation_key: str
    conversation_id: str
    customer_key: str
    channel: str
    kind: str
    trigger: str
    status: str
    asked_at: datetime
    score: int | None = None
    comment: str | None = None
    answered_at: datetime | None = None
    handoff_id: int | None = None
    agent_name: str | None = None
    handoff_reason: str | None = None
    intents: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredData:
    """What was read for one window."""

    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sender -> events, in order
    handoffs: tuple[HandoffRow, ...] = ()  # of those senders, opened in the window
    surveys: tuple[SurveyRow, ...] = ()  # asked in the window
    identities: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, sender) -> customer id
    waiting: tuple[HandoffRow, ...] = ()  # handoffs waiting for a person right now


def tracker_url(endpoints_file: Path, data_dir: Path) -> str:
    """The tracker store's SQLAlchemy URL from the endpoints file Rasa runs with."""
    stores = rasa_stores(endpoints_file, data_dir)
    if stores.tracker_url is None:
        raise TrackerStoreError(
            f"{endpoints_file}: tracker_store is not SQL, so there are no stored conversations to "
            "measure; set tracker_store: type: SQL (see endpoints.yml)"
        )
    return stores.tracker_url


def load(tracker: str, database_url: str, start: datetime, end: datetime) -> StoredData:
    """Everything in [``start``, ``end``) (instants; naive = UTC), plus the handoffs waiting now."""
    start, end = as_utc(start), as_utc(end)
    events = tracker_events(tracker, start - LOOKBEHIND, end)
    senders = sorted(events)
    return StoredData(
        events=events,
        handoffs=tuple(handoffs_of(database_url, senders, start - LOOKBEHIND, end)),
        surveys=tuple(surveys_asked(database_url, start, end)),
        identities=identities_of(database_url, senders),
        waiting=tuple(waiting_handoffs(database_url)),
    )


def tracker_events(url: str, start: datetime, end: datetime) -> dict[str, list[dict[str, Any]]]:
    """sender -> its events with timestamps in [start, end), for senders with an event there."""
    lo, hi = as_utc(start).timestamp(), as_utc(end).timestamp()
    query = text(
        "SELECT sender_id, data FROM events WHERE sender_id IN :senders "
        "AND timestamp >= :lo AND timestamp < :hi ORDER BY timestamp, id"
    ).bindparams(bindparam("senders", expanding=True))
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        with rasa_engine(url).connect() as connection:
            active = connection.execute(
                text("SELECT DISTINCT sender_id FROM events WHERE timestamp >= :lo AND timestamp < :hi"),
                {"lo": lo, "hi": hi},
            )
            senders = [str(sender) for (sender,) in active]
            for batch in _batches(senders):
                for sender, data in connection.execute(query, {"senders": batch, "lo": lo, "hi": hi}):
                    event = decoded_event(data)
                    if event:
                        found.setdefault(str(sender), []).append(event)
    except SQLAlchemyError as exc:
        if missing_table(exc):
            return {}
        raise
    return found


def handoffs_of(url: str, senders: Iterable[str], start: datetime, end: datetime) -> list[HandoffRow]:
    rows: list[HandoffRow] = []
    with our_engine(url).connect() as connection:
        for batch in _batches(senders):
            query = select(Handoff).where(
                Handoff.conversation_id.in_(batch),
                Handoff.created_at >= _naive(start),
                Handoff.created_at < _naive(end),
            )
            rows += [handoff_row(row) for row in connection.execute(query)]
    return sorted(rows, key=lambda row: (row.created_at, row.id))


def waiting_handoffs(url: str) -> list[HandoffRow]:
    with our_engine(url).connect() as connection:
        query = select(Handoff).where(Handoff.status == HandoffStatus.WAITING.value)
        return [handoff_row(row) for row in connection.execute(query)]


def surveys_asked(url: str, start: datetime, end: datetime) -> list[SurveyRow]:
    with our_engine(url).connect() as connection:
        query = (
            select(SurveyRequest)
            .where(SurveyRequest.asked_at >= _naive(start), SurveyRequest.asked_at < _naive(end))
            .order_by(SurveyRequest.asked_at, SurveyRequest.id)
        )
        return [survey_row(row) for row in connection.execute(query)]


def identities_of(url: str, senders: Iterable[str]) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    with our_engine(url).connect() as connection:
        for batch in _batches(senders):
            query = select(Identity.channel, Identity.external_id, Identity.customer_id).where(
                Identity.external_id.in_(batch)
            )
            for channel, external_id, customer_id in connection.execute(query):
                found[(str(channel), str(external_id))] = int(customer_id)
    return found


_DETAIL = re.compile(r"\s*\([^()]*\)\s*$")


def reason_group(reason: str) -> str:
    """A handoff reason without its trailing detail, so reports group by kind of reason.

    "the customer is upset (anger 0.94)" and "(anger 0.81)" are one reason to a support
    lead, not two rows; the detail stays on the handoff card.
    """
    return _DETAIL.sub("", reason).strip() or reason


def handoff_row(row: Any) -> HandoffRow:
    return HandoffRow(
        id=int(row.id),
        conversation_id=str(row.conversation_id),
        channel=str(row.channel),
        reason=reason_group(str(row.reason)),
        status=str(row.status),
        created_at=as_utc(row.created_at),
        claimed_at=as_utc(row.claimed_at) if row.claimed_at else None,
        resolved_at=as_utc(row.resolved_at) if row.resolved_at else None,
        claimed_by_name=row.claimed_by_name,
        resolved_by_name=row.resolved_by_name,
    )


def survey_row(row: Any) -> SurveyRow:
    return SurveyRow(
        conversation_key=str(row.conversation_key),
        conversation_id=str(row.conversation_id),
        customer_key=str(row.customer_key),
        channel=str(row.channel),
        kind=str(row.kind),
        trigger=str(row.trigger),
        status=str(row.status),
        asked_at=as_utc(row.asked_at),
        score=None if row.score is None else int(row.score),
        comment=row.comment,
        answered_at=as_utc(row.answered_at) if row.answered_at else None,
        handoff_id=row.handoff_id,
        agent_name=row.agent_name,
        handoff_reason=reason_group(row.handoff_reason) if row.handoff_reason else None,
        intents=tuple(str(intent) for intent in (row.intents or ())),
    )


def _naive(moment: datetime) -> datetime:
    """Our tables store naive UTC."""
    return as_utc(moment).replace(tzinfo=None)


def _batches(values: Iterable[str]) -> Iterator[list[str]]:
    items = sorted(set(values))
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]
