"""A customer's history with people: their earlier handoffs and their last survey answer.

Why in the context packet: the agent taking over sees at a glance that this is the third
time this week, who helped last time (and in which thread), and that the customer answered
"CSAT 2/5" afterwards, without searching Slack or the report. The packet is stored with the
handoff and re-rendered on every card update, so it stays small: a few handoffs, each text
cut short, one survey.

Reasons are redacted (:func:`bot.redact.redact`, as everything in the packet); the survey
comment is anonymised (:func:`bot.redact.anonymise`): it was written about an earlier
conversation and the agent does not need the emails or numbers in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.db import Sessions
from bot.handoff.models import Handoff
from bot.redact import anonymise, redact
from bot.surveys.models import ANSWERED, SurveyRequest

MAX_EARLIER_HANDOFFS = 5
REASON_LIMIT = 200
COMMENT_LIMIT = 300
NAME_LIMIT = 100


@dataclass(frozen=True)
class EarlierHandoff:
    """One earlier handoff of the customer and where its thread is (``desk_channel`` + ``card_ts``)."""

    id: int
    created_at: datetime
    reason: str
    status: str
    team: str | None = None
    agent: str | None = None  # who claimed (or resolved) it
    desk_channel: str | None = None  # Slack channel id of its card; None on the local inbox
    card_ts: str | None = None  # the card's ts: the thread's id


@dataclass(frozen=True)
class LastSurvey:
    """The customer's latest answered survey: ``kind`` is csat / nps / ces."""

    kind: str
    score: int
    answered_at: datetime
    comment: str | None = None  # anonymised


def _short(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def earlier_handoffs(
    db: Sessions, customer_id: int, *, limit: int = MAX_EARLIER_HANDOFFS
) -> list[EarlierHandoff]:
    """The customer's most recent handoffs, newest first."""
    query = select(Handoff).where(Handoff.customer_id == customer_id)
    with db.session() as session:
        rows = session.scalars(query.order_by(Handoff.created_at.desc(), Handoff.id.desc()).limit(limit))
        return [
            EarlierHandoff(
                id=row.id,
                created_at=row.created_at,
                reason=_short(redact(row.reason or ""), REASON_LIMIT) or "",
                status=row.status,
                team=_short(row.team, NAME_LIMIT),
                agent=_short(row.claimed_by_name or row.resolved_by_name, NAME_LIMIT),
                desk_channel=row.desk_channel,
                card_ts=row.card_ts,
            )
            for row in rows
        ]


def last_survey(db: Sessions, customer_id: int) -> LastSurvey | None:
    """The customer's latest answered survey (any channel: surveys are keyed ``customer:<id>``)."""
    with db.session() as session:
        row = session.scalars(
            select(SurveyRequest)
            .where(
                SurveyRequest.customer_key == f"customer:{customer_id}",
                SurveyRequest.status == ANSWERED,
                SurveyRequest.score.is_not(None),
                SurveyRequest.answered_at.is_not(None),
            )
            .order_by(SurveyRequest.answered_at.desc(), SurveyRequest.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        comment = " ".join(anonymise(row.comment).split()) if row.comment else None
        return LastSurvey(
            kind=row.kind,
            score=row.score,
            answered_at=row.answered_at,
            comment=_short(comment, COMMENT_LIMIT),
        )


_SCALE = {"csat": 5, "nps": 10, "ces": 7}  # the top of each survey's scale (bot/surveys/models.py)


def score_text(kind: object, score: object) -> str:
    """``CSAT 2/5``, ``NPS 9/10``: the answer as both desks show it; "" when it is not a known survey."""
    top = _SCALE.get(str(kind or "").lower())
    if top is None or not isinstance(score, int) or isinstance(score, bool):
        return ""
    return f"{str(kind).upper()} {score}/{top}"
