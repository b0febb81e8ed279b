"""The report dict: every figure for a period, its change, breakdowns, trend and distributions.

:func:`build_report` is a pure function of loaded data (conversations, survey rows, the
handoffs waiting now) so tests pass fixtures with hand-computed answers; :func:`load_report`
is the thin loader the CLI, the dashboard and the digest call. The dict's shape is the team
contract (docs/metrics.md lists every figure with its formula):

``period`` · ``generated_at`` · ``figures`` {name: label, unit, value, previous, change} ·
``breakdowns`` {channel|intent|handoff_reason|agent: [{key, figures}]} · ``trend`` (per local
day) · ``distributions`` · ``handoff_reasons`` · ``top_unrecognised`` · ``detractor_comments``
· ``waiting_now``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.business import BusinessHours, load_business_settings
from bot.experience import tracker_events
from bot.experience.conversations import Conversation, HandoffRow, conversations_of
from bot.experience.figures import FIGURES, Recontacts, compute_figures, seconds
from bot.experience.measures import change
from bot.experience.periods import Period, as_utc, local_day
from bot.experience.tracker_events import StoredData, SurveyRow
from bot.redact import anonymise
from bot.settings import business_file, project_root, yaml_section
from bot.surveys.models import ANSWERED, CES, CSAT, NPS

TOP_UNRECOGNISED = 20
DETRACTOR_COMMENTS = 50
# Unhappy answers whose comments the lead should read: NPS detractors, CSAT 1-2, CES 1-3 (disagree).
UNHAPPY = {NPS: range(0, 7), CSAT: range(1, 3), CES: range(1, 4)}
SATISFIED = {CSAT: range(4, 6), CES: range(5, 8)}  # a survey that confirms the resolution


class MetricsSettingsError(ValueError):
    """business.yml ``metrics:`` has a value of the wrong kind."""


@dataclass(frozen=True)
class MetricSettings:
    """Windows of the resolution figures, the session length and the business hours."""

    business_hours: BusinessHours
    verified_after_hours: float = 24.0
    durable_after_days: float = 7.0
    session_expiration_minutes: float = 60.0

    @property
    def timezone(self) -> str:
        return self.business_hours.timezone

    @property
    def verified_window(self) -> timedelta:
        return timedelta(hours=self.verified_after_hours)

    @property
    def durable_window(self) -> timedelta:
        return timedelta(days=self.durable_after_days)


def metric_settings(business_path: Path | None = None, domain_path: Path | None = None) -> MetricSettings:
    """business.yml ``metrics:`` (both windows), its business hours, and domain.yml's session length."""
    path = business_path or business_file()
    raw = yaml_section(path, "metrics")
    values: dict[str, float] = {}
    for key, default in (("verified_after_hours", 24.0), ("durable_after_days", 7.0)):
        try:
            values[key] = float(raw.get(key, default))
        except (TypeError, ValueError) as exc:
            raise MetricsSettingsError(
                f"{path}: metrics.{key} must be a number, not {raw.get(key)!r}"
            ) from exc
        if values[key] <= 0:
            raise MetricsSettingsError(f"{path}: metrics.{key} must be more than 0, not {values[key]}")
    domain = yaml.safe_load((domain_path or project_root() / "domain.yml").read_text(encoding="utf-8")) or {}
    expiration = float((domain.get("session_config") or {}).get("session_expiration_time", 60) or 60)
    return MetricSettings(
        business_hours=load_business_settings(path).handoff.business_hours,
        session_expiration_minutes=expiration,
        **values,
    )


def report_window(period: Period, settings: MetricSettings) -> tuple[datetime, datetime]:
    """The instants to load for ``period``: from the previous period's start to the end of the
    durable window after this one (recontacts after the period's last conversation)."""
    start, _ = period.previous().bounds()
    _, end = period.bounds()
    return start, end + settings.durable_window + timedelta(days=1)


def assemble(stored: StoredData, settings: MetricSettings) -> list[Conversation]:
    """Conversations of every sender in ``stored``, joined with handoffs, identities and surveys."""
    satisfied = {
        row.conversation_key
        for row in stored.surveys
        if row.status == ANSWERED and row.score is not None and row.score in SATISFIED.get(row.kind, ())
    }
    handoffs: dict[str, list[HandoffRow]] = {}
    for row in stored.handoffs:
        handoffs.setdefault(row.conversation_id, []).append(row)
    found: list[Conversation] = []
    for sender, events in stored.events.items():
        found += conversations_of(
            sender,
            events,
            handoffs=handoffs.get(sender, ()),
            identities=stored.identities,
            satisfied=satisfied,
            expiration_minutes=settings.session_expiration_minutes,
        )
    return sorted(found, key=lambda c: (c.started_at, c.key))


def load_report(
    period: Period | str,
    *,
    endpoints_file: Path,
    database_url: str,
    data_dir: Path,
    now: datetime | None = None,
    business_path: Path | None = None,
) -> dict[str, Any]:
    """Read the stores and build the report (``period``: a Period or text for :meth:`Period.parse`)."""
    settings = metric_settings(business_path)
    now = as_utc(now or datetime.now(UTC))
    if isinstance(period, str):
        period = Period.parse(period, settings.timezone, now)
    start, end = report_window(period, settings)
    tracker = tracker_events.tracker_url(endpoints_file, data_dir)
    stored = tracker_events.load(tracker, database_url, start, end)
    return build_report(
        assemble(stored, settings), stored.surveys, stored.waiting, period, settings=settings, now=now
    )


def build_report(
    conversations: Sequence[Conversation],
    surveys: Sequence[SurveyRow],
    waiting: Sequence[HandoffRow],
    period: Period,
    *,
    settings: MetricSettings,
    now: datetime,
) -> dict[str, Any]:
    """The report dict for ``period`` (pure). ``conversations`` may reach beyond the period: the
    later ones are the recontacts; only those starting in the period (local dates) are counted."""
    now = as_utc(now)
    tz = settings.timezone
    recontacts = Recontacts(conversations)
    previous = period.previous()

    def in_period(span: Period) -> tuple[list[Conversation], list[SurveyRow]]:
        return (
            [c for c in conversations if span.contains(c.started_at)],
            [s for s in surveys if span.contains(s.asked_at)],
        )

    def figures_of(
        convs: list[Conversation], asked: list[SurveyRow], waiting_now: Sequence[HandoffRow] | None
    ) -> dict[str, float | None]:
        return compute_figures(convs, asked, waiting_now, recontacts=recontacts, settings=settings, now=now)

    current_convs, current_surveys = in_period(period)
    current = figures_of(current_convs, current_surveys, waiting)
    before = figures_of(*in_period(previous), None)
    convs_by_day: dict[date, list[Conversation]] = {}
    for c in current_convs:
        convs_by_day.setdefault(local_day(c.started_at, tz), []).append(c)
    surveys_by_day: dict[date, list[SurveyRow]] = {}
    for s in current_surveys:
        surveys_by_day.setdefault(local_day(s.asked_at, tz), []).append(s)
    return {
        "period": {**period.to_dict(), "timezone": tz, "previous": previous.to_dict()},
        "generated_at": now.isoformat(),
        "figures": {
            name: {
                "label": label,
                "unit": unit,
                "value": current[name],
                "previous": before[name],
                "change": _change(current[name], before[name], unit),
            }
            for name, (label, unit) in FIGURES.items()
        },
        "breakdowns": _breakdowns(current_convs, current_surveys, waiting, figures_of),
        "trend": [
            {
                "day": day.isoformat(),
                **figures_of(convs_by_day.get(day, []), surveys_by_day.get(day, []), None),
            }
            for day in period.each_day()
        ],
        "distributions": _distributions(current_convs, settings),
        "handoff_reasons": [
            {"reason": reason, "count": count}
            for reason, count in _ranked(c.handoff.reason for c in current_convs if c.handoff)
        ],
        "top_unrecognised": [
            {"text": text, "count": count}
            for text, count in _ranked(
                _normalised(t) for c in current_convs for t in c.unrecognised if t.strip()
            )
        ][:TOP_UNRECOGNISED],
        "detractor_comments": _detractor_comments(current_surveys, tz),
        "waiting_now": len(waiting),
    }


def _breakdowns(
    convs: list[Conversation],
    surveys: list[SurveyRow],
    waiting: Sequence[HandoffRow],
    figures_of: Callable[
        [list[Conversation], list[SurveyRow], Sequence[HandoffRow] | None], dict[str, float | None]
    ],
) -> dict[str, list[dict[str, Any]]]:
    """Figures per channel, intent (a conversation counts once for each intent it had), handoff
    reason and agent; each survey row is split by its own channel/intents/reason/agent."""
    dimensions: dict[
        str, tuple[Callable[[Conversation], Iterable[str]], Callable[[SurveyRow], Iterable[str]]]
    ] = {
        "channel": (lambda c: [c.channel], lambda s: [s.channel]),
        "intent": (lambda c: c.intents, lambda s: s.intents),
        "handoff_reason": (
            lambda c: [c.handoff.reason] if c.handoff else [],
            lambda s: [s.handoff_reason] if s.handoff_reason else [],
        ),
        "agent": (
            lambda c: [c.handoff.agent_name] if c.handoff and c.handoff.agent_name else [],
            lambda s: [s.agent_name] if s.agent_name else [],
        ),
    }
    waiting_by = {"channel": lambda h: h.channel, "handoff_reason": lambda h: h.reason}
    result: dict[str, list[dict[str, Any]]] = {}
    for name, (of_conversation, of_survey) in dimensions.items():
        counts = Counter(key for c in convs for key in set(of_conversation(c)))
        counts.update({key: 0 for s in surveys for key in of_survey(s) if key not in counts})
        rows = []
        for key, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            pick = waiting_by.get(name)
            rows.append(
                {
                    "key": key,
                    "figures": figures_of(
                        [c for c in convs if key in of_conversation(c)],
                        [s for s in surveys if key in of_survey(s)],
                        [h for h in waiting if pick(h) == key] if pick else None,
                    ),
                }
            )
        result[name] = rows
    return result


def _distributions(convs: list[Conversation], settings: MetricSettings) -> dict[str, list[float]]:
    handoffs = [c.handoff for c in convs if c.handoff]
    return {
        "bot_first_response_seconds": sorted(
            seconds(c.started_at, c.first_bot_reply_at) for c in convs if c.first_bot_reply_at
        ),
        "agent_first_reply_seconds": sorted(
            seconds(h.requested_at, h.first_agent_reply_at) for h in handoffs if h.first_agent_reply_at
        ),
        "bot_resolution_seconds": sorted(
            seconds(c.started_at, c.last_bot_reply_at)
            for c in convs
            if c.contained and not c.abandoned and c.last_bot_reply_at
        ),
        "people_resolution_seconds": sorted(
            seconds(h.requested_at, h.resolved_at) for h in handoffs if h.resolved_at
        ),
    }


def _detractor_comments(surveys: list[SurveyRow], timezone: str) -> list[dict[str, Any]]:
    unhappy = [
        s
        for s in surveys
        if s.status == ANSWERED
        and s.score is not None
        and s.score in UNHAPPY.get(s.kind, ())
        and (s.comment or "").strip()
    ]
    unhappy.sort(key=lambda s: s.answered_at or s.asked_at, reverse=True)
    return [
        {
            "kind": s.kind,
            "score": s.score,
            "comment": anonymise(s.comment or ""),
            "channel": s.channel,
            "conversation_id": s.conversation_id,
            "answered_at": (s.answered_at or s.asked_at).isoformat(),
            "day": local_day(s.answered_at or s.asked_at, timezone).isoformat(),
        }
        for s in unhappy[:DETRACTOR_COMMENTS]
    ]


def _change(value: float | None, previous: float | None, unit: str) -> float | None:
    moved = change(value, previous)
    return None if moved is None else round(moved, 2 if unit == "score" else 1)


def _ranked(values: Iterable[str]) -> list[tuple[str, int]]:
    return sorted(Counter(values).items(), key=lambda item: (-item[1], item[0]))


def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()
