"""How long each kind of data is kept (business.yml ``retention:``) and what is old enough to go.

Why pure functions: deciding what to delete is the dangerous part of pruning (cut a live
conversation in half, drop events a consumer has not read yet), so the decisions are made
here on plain values and tested on their own; ``bot.retention.prune`` only reads rows and
deletes what these functions return.

A value of 0 days keeps that kind of data for ever (pruning it is switched off).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.settings import SettingsError, business_file, yaml_section

SECTION = "retention"


class RetentionSettingsError(SettingsError):
    """business.yml ``retention:`` has a value that cannot work; the message names it and the fix."""


@dataclass(frozen=True)
class RetentionSettings:
    """Days each kind of data is kept (0: for ever); the field names are the business.yml keys."""

    broker_events_days: int = 30  # Rasa's SQL event broker table (read by the relay and metrics)
    delivered_outbox_days: int = 7  # outbox items after delivery
    x_seen_events_days: int = 30  # X event ids we handled (duplicates arrive within minutes)
    conversations_days: int = 365  # Rasa trackers (after their last event) and conversation summaries
    handoffs_days: int = 365  # finished handoffs, their inbox threads and outbox queues
    prune_every_hours: int = 6  # how often the worker prunes

    def cutoff(self, kind: str, now: datetime) -> datetime | None:
        """The moment before which ``kind`` (a ``*_days`` field) is old; None: kept for ever."""
        days = int(getattr(self, f"{kind}_days"))
        return now - timedelta(days=days) if days > 0 else None


def retention_settings(path: Path | None = None) -> RetentionSettings:
    """The ``retention:`` section of business.yml (defaults for what it leaves out)."""
    source = path or business_file()
    section = yaml_section(source, SECTION)
    known = {item.name for item in fields(RetentionSettings)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise RetentionSettingsError(
            f"{source}: retention.{unknown[0]} is not a setting; the keys are {', '.join(sorted(known))} "
            "(docs/configuration.md, business.yml)"
        )
    values = {}
    for key, raw in section.items():
        if isinstance(raw, bool) or not str(raw).strip().isdigit():
            raise RetentionSettingsError(
                f"{source}: retention.{key}={raw!r} is not a whole number of "
                f"{'hours' if key.endswith('hours') else 'days'}; set e.g. {getattr(RetentionSettings, key)} "
                "(0 days keeps that data for ever)"
            )
        values[key] = int(str(raw).strip())
    settings = RetentionSettings(**values)
    if settings.prune_every_hours < 1:
        raise RetentionSettingsError(f"{source}: retention.prune_every_hours must be 1 or more hours")
    return settings


def stale_conversations(
    last_event: Mapping[str, float], cutoff: datetime | None, protected: Iterable[str] = ()
) -> list[str]:
    """Conversations whose *last* event is older than ``cutoff``: pruned whole, never in part.

    ``last_event``: sender id -> newest Rasa event timestamp (seconds since the epoch, UTC);
    ``protected``: conversations that must stay whatever their age (an open handoff).
    """
    if cutoff is None:
        return []
    limit = _epoch(cutoff)
    keep = set(protected)
    return sorted(sender for sender, newest in last_event.items() if newest < limit and sender not in keep)


def prunable_prefix(
    rows: Iterable[tuple[int, float | None]], cutoff: datetime | None, read_up_to: int | None
) -> int | None:
    """The highest broker-table id that may go: the leading run of old rows, all read by every consumer.

    ``rows``: (id, event timestamp) in id order; a row without a readable timestamp stops the
    run (we cannot tell its age). ``read_up_to``: the lowest position of the consumers
    following the table (None: no consumer keeps a position). Rasa appends events in time
    order, so stopping at the first young row never deletes a young one.
    """
    if cutoff is None:
        return None
    limit, last = _epoch(cutoff), None
    for row_id, stamp in rows:
        if stamp is None or stamp >= limit or (read_up_to is not None and row_id > read_up_to):
            break
        last = row_id
    return last


def _epoch(moment: datetime) -> float:
    """Seconds since the epoch of a naive-UTC or aware datetime (Rasa's timestamps)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return aware.timestamp()
