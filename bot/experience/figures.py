"""Every figure of the report, computed from conversations and survey rows (pure).

One function, :func:`compute_figures`, makes all figures for any subset (a period, one day,
one channel …), so the headline, the trend and the breakdowns cannot disagree. The
formulas are in docs/metrics.md; the notes here say only what the code must get right.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.experience.conversations import Conversation, HandoffRow
from bot.experience.measures import average, csat, median, nps, rate, rounded
from bot.experience.periods import business_seconds
from bot.experience.tracker_events import SurveyRow
from bot.surveys.models import AFTER_AGENT, ANSWERED, CES, CSAT, NPS

if TYPE_CHECKING:
    from bot.experience.report import MetricSettings

PERCENT, SECONDS, SCORE, COUNT = "percent", "seconds", "score", "count"

# name -> (label, unit), in the order the report shows them.
FIGURES: dict[str, tuple[str, str]] = {
    "conversations": ("Conversations", COUNT),
    "involvement": ("Bot involvement", PERCENT),
    "containment": ("Containment", PERCENT),
    "verified_resolution": ("Verified resolution", PERCENT),
    "durable_resolution": ("Durable resolution", PERCENT),
    "reopen_rate": ("Reopen / recontact rate", PERCENT),
    "abandoned_rate": ("Abandoned mid-flow", PERCENT),
    "handoff_rate": ("Handoff rate", PERCENT),
    "fallback_rate": ("Fallback rate (per customer message)", PERCENT),
    "csat": ("CSAT (satisfied)", PERCENT),
    "nps": ("NPS", SCORE),
    "ces": ("CES (average, 1–7)", SCORE),
    "csat_response_rate": ("CSAT response rate", PERCENT),
    "nps_response_rate": ("NPS response rate", PERCENT),
    "ces_response_rate": ("CES response rate", PERCENT),
    "csat_bot_only": ("CSAT, bot only", PERCENT),
    "csat_after_person": ("CSAT, after a person", PERCENT),
    "nps_bot_only": ("NPS, bot only", SCORE),
    "nps_after_person": ("NPS, after a person", SCORE),
    "ces_bot_only": ("CES, bot only", SCORE),
    "ces_after_person": ("CES, after a person", SCORE),
    "bot_first_response_median": ("Bot first response (median)", SECONDS),
    "people_first_reply_median": ("Handoff to first agent reply (median)", SECONDS),
    "handoff_claim_median": ("Handoff to claim (median)", SECONDS),
    "bot_resolution_median": ("Bot time to resolution (median)", SECONDS),
    "people_resolution_median": ("People time to resolution (median)", SECONDS),
    "handoff_claim_median_business_hours": ("Handoff to claim, business hours (median)", SECONDS),
    "people_resolution_median_business_hours": (
        "People time to resolution, business hours (median)",
        SECONDS,
    ),
    "waiting_now": ("Waiting for a person now", COUNT),
}
DECIMALS = {PERCENT: 1, SECONDS: 1, COUNT: 0}
SCORE_DECIMALS = {"nps": 1, "ces": 2}


class Recontacts:
    """When each customer came back: the next conversation of the same customer after one started.

    Built once over every loaded conversation (also those after the period), keyed by
    ``customer_key``, so a customer who wrote on the web chat and then on X is one customer.
    """

    def __init__(self, conversations: Sequence[Conversation]) -> None:
        self._starts: dict[str, list[datetime]] = {}
        for c in conversations:
            self._starts.setdefault(c.customer_key, []).append(c.started_at)
        for starts in self._starts.values():
            starts.sort()

    def next_after(self, conversation: Conversation) -> datetime | None:
        """Start of the customer's next conversation (started later than this one), if any."""
        starts = self._starts.get(conversation.customer_key, [])
        index = bisect.bisect_right(starts, conversation.started_at)
        return starts[index] if index < len(starts) else None

    def came_back_within(self, conversation: Conversation, window: timedelta) -> bool:
        """A new conversation started no later than ``window`` after this one ended."""
        following = self.next_after(conversation)
        return following is not None and following <= conversation.ended_at + window


def seconds(start: datetime, end: datetime | None) -> float:
    return max(0.0, (end - start).total_seconds()) if end else 0.0


def compute_figures(
    conversations: Sequence[Conversation],
    surveys: Sequence[SurveyRow],
    waiting: Sequence[HandoffRow] | None,
    *,
    recontacts: Recontacts,
    settings: MetricSettings,
    now: datetime,
) -> dict[str, float | None]:
    """All figures of FIGURES for this subset, rounded for display (``waiting`` None: not applicable)."""
    convs = list(conversations)
    entered = [c for c in convs if c.bot_took_part]
    verified_window, durable_window = settings.verified_window, settings.durable_window
    session = timedelta(minutes=settings.session_expiration_minutes)

    def verified(c: Conversation) -> bool:
        return (
            c.contained
            and not c.abandoned
            and (c.customer_confirmed or not recontacts.came_back_within(c, verified_window))
        )

    def elapsed(c: Conversation, window: timedelta) -> bool:
        return c.ended_at + window <= now

    verified_base = [c for c in entered if elapsed(c, verified_window)]
    durable_base = [c for c in entered if elapsed(c, durable_window)]
    reopen_base = [c for c in convs if elapsed(c, durable_window)]
    over = [c for c in entered if elapsed(c, session)]
    handoffs = [c.handoff for c in convs if c.handoff]
    hours = settings.business_hours
    values: dict[str, float | None] = {
        "conversations": len(convs),
        "involvement": rate(len(entered), len(convs)),
        "containment": rate(sum(c.contained for c in entered), len(entered)),
        "verified_resolution": rate(sum(verified(c) for c in verified_base), len(verified_base)),
        "durable_resolution": rate(
            sum(verified(c) and not recontacts.came_back_within(c, durable_window) for c in durable_base),
            len(durable_base),
        ),
        "reopen_rate": rate(
            sum(recontacts.came_back_within(c, durable_window) for c in reopen_base), len(reopen_base)
        ),
        "abandoned_rate": rate(sum(c.abandoned for c in over), len(over)),
        "handoff_rate": rate(sum(c.handed_off for c in convs), len(convs)),
        "fallback_rate": rate(sum(c.fallbacks for c in convs), sum(c.customer_messages for c in convs)),
        "bot_first_response_median": median(
            seconds(c.started_at, c.first_bot_reply_at) for c in convs if c.first_bot_reply_at
        ),
        "people_first_reply_median": median(
            seconds(h.requested_at, h.first_agent_reply_at) for h in handoffs if h.first_agent_reply_at
        ),
        "handoff_claim_median": median(
            seconds(h.requested_at, h.claimed_at) for h in handoffs if h.claimed_at
        ),
        "bot_resolution_median": median(
            seconds(c.started_at, c.last_bot_reply_at)
            for c in entered
            if c.contained and not c.abandoned and c.last_bot_reply_at
        ),
        "people_resolution_median": median(
            seconds(h.requested_at, h.resolved_at) for h in handoffs if h.resolved_at
        ),
        "handoff_claim_median_business_hours": median(
            business_seconds(h.requested_at, h.claimed_at, hours) for h in handoffs if h.claimed_at
        ),
        "people_resolution_median_business_hours": median(
            business_seconds(h.requested_at, h.resolved_at, hours) for h in handoffs if h.resolved_at
        ),
        "waiting_now": None if waiting is None else len(waiting),
    }
    values.update(survey_figures(surveys))
    return {name: _display(name, values[name]) for name in FIGURES}


def survey_figures(surveys: Sequence[SurveyRow]) -> dict[str, float | None]:
    """CSAT, NPS, CES, their response rates and bot-only / after-a-person splits."""
    values: dict[str, float | None] = {}
    score_of = {CSAT: csat, NPS: nps, CES: average}
    for kind, score in score_of.items():
        asked = [s for s in surveys if s.kind == kind]
        answered = [s for s in asked if s.status == ANSWERED and s.score is not None]
        values[kind] = score(s.score for s in answered if s.score is not None)
        values[f"{kind}_response_rate"] = rate(len(answered), len(asked))
        values[f"{kind}_after_person"] = score(
            s.score for s in answered if after_person(s) and s.score is not None
        )
        values[f"{kind}_bot_only"] = score(
            s.score for s in answered if not after_person(s) and s.score is not None
        )
    return values


def after_person(survey: SurveyRow) -> bool:
    """An agent was involved: asked after an agent resolved a handoff, or the row names an agent."""
    return survey.trigger == AFTER_AGENT or bool(survey.agent_name)


def _display(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    unit = FIGURES[name][1]
    if unit == COUNT:
        return int(value)
    return rounded(value, SCORE_DECIMALS.get(name.split("_")[0], 1) if unit == SCORE else DECIMALS[unit])
