"""``SurveyStore``: surveys asked and answered, on the shared ``survey_requests`` table.

Each method is one transaction. The table's unique ``conversation_key`` is what keeps a
conversation to one survey, and the ``status == asked`` guard on every update is what
makes the first answer win: a double tap, a "5" then a "4", or a retried action change
nothing the second time. A detractor after a handoff is queued for follow-up (bot/outbox.py)
in the same transaction as the answer, so an answer is never stored without its follow-up,
nor followed up twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import Sessions
from bot.handoff.store import desk_queue
from bot.outbox import enqueue, utcnow
from bot.redact import redact
from bot.surveys.models import AFTER_AGENT, ANSWERED, ASKED, CSAT, DECLINED, IGNORED, NPS, SurveyRequest

# Outbox kind: an unhappy answer after a handoff, for the agents to follow up (bot/handoff/relay.py).
SURVEY_FOLLOWUP = "desk.survey_followup"
COMMENT_LIMIT = 2000


def unhappy(kind: str, score: int | None) -> bool:
    """A detractor (NPS 0–6) or an unhappy CSAT (1–2): someone should get in touch."""
    if score is None:
        return False
    return (kind == NPS and score <= 6) or (kind == CSAT and score <= 2)


@dataclass(frozen=True)
class NewSurvey:
    """A survey about to be asked, with what the report needs to split its answer."""

    conversation_key: str
    conversation_id: str
    customer_key: str
    channel: str
    kind: str
    trigger: str
    intents: list[str]
    handoff_id: int | None = None
    agent_name: str | None = None
    handoff_reason: str | None = None


@dataclass(frozen=True)
class SurveyRecord:
    id: int
    conversation_key: str
    conversation_id: str
    customer_key: str
    channel: str
    kind: str
    trigger: str
    handoff_id: int | None
    agent_name: str | None
    handoff_reason: str | None
    intents: list[str]
    status: str
    score: int | None
    comment: str | None
    asked_at: datetime
    answered_at: datetime | None
    commented_at: datetime | None
    followed_up: bool


def _record(row: SurveyRequest) -> SurveyRecord:
    values = {column.name: getattr(row, column.name) for column in SurveyRequest.__table__.columns}
    values["intents"] = list(values["intents"] or [])
    values["followed_up"] = bool(values["followed_up"])
    return SurveyRecord(**values)


class SurveyStore:
    """Typed operations on ``survey_requests``; ``db`` is a ``bot.db.Database`` or a ``CustomerStore``."""

    def __init__(self, db: Sessions, followup_channel: str = "") -> None:
        self.db = db
        self.followup_channel = followup_channel  # Slack channel id for follow-ups; "" = the handoff's

    def ask(self, survey: NewSurvey, now: datetime | None = None) -> SurveyRecord | None:
        """Record that the survey is being asked; None if this conversation was asked already."""
        row = SurveyRequest(
            conversation_key=survey.conversation_key,
            conversation_id=survey.conversation_id,
            customer_key=survey.customer_key,
            channel=survey.channel,
            kind=survey.kind,
            trigger=survey.trigger,
            handoff_id=survey.handoff_id,
            agent_name=survey.agent_name,
            handoff_reason=survey.handoff_reason,
            intents=list(survey.intents),
            status=ASKED,
            asked_at=now or utcnow(),
            followed_up=False,
        )
        try:
            with self.db.session() as session:
                session.add(row)
                session.flush()
                return _record(row)
        except IntegrityError:  # unique conversation_key: asked before in this conversation
            return None

    def get(self, conversation_key: str) -> SurveyRecord | None:
        with self.db.session() as session:
            row = self._row(session, conversation_key)
            return _record(row) if row else None

    def answer(
        self, conversation_key: str, score: int, intents: list[str] | None = None, now: datetime | None = None
    ) -> bool:
        """Store the score if the survey is still waiting for one; False when it was not (counted once).

        ``intents`` (the customer's intents so far) refreshes what the survey was asked about.
        An unhappy answer after a handoff is queued for follow-up in the same transaction.
        """
        with self.db.session() as session:
            values: dict[str, Any] = {"status": ANSWERED, "score": int(score), "answered_at": now or utcnow()}
            if intents is not None:
                values["intents"] = list(intents)
            if not self._settle(session, conversation_key, values):
                return False
            row = self._row(session, conversation_key)
            if row is not None and self._wants_followup(row):
                self._queue_followup(session, row, f"survey-followup:{row.id}")
            return True

    def decline(self, conversation_key: str, now: datetime | None = None) -> bool:
        with self.db.session() as session:
            return self._settle(
                session, conversation_key, {"status": DECLINED, "answered_at": now or utcnow()}
            )

    def ignore(self, conversation_key: str) -> bool:
        """The customer changed the subject or let the survey expire (no answer counted)."""
        with self.db.session() as session:
            return self._settle(session, conversation_key, {"status": IGNORED})

    def comment(self, conversation_key: str, text: str, now: datetime | None = None) -> bool:
        """The optional comment after a score (redacted); the first one counts, like the score.

        A comment on a followed-up answer is sent after the follow-up, in the same queue.
        """
        clean = redact(text.strip())[:COMMENT_LIMIT]
        if not clean:
            return False
        with self.db.session() as session:
            changed = session.execute(
                update(SurveyRequest)
                .where(
                    SurveyRequest.conversation_key == conversation_key,
                    SurveyRequest.status == ANSWERED,
                    SurveyRequest.comment.is_(None),
                )
                .values(comment=clean, commented_at=now or utcnow())
                .execution_options(synchronize_session=False)
            )
            if changed.rowcount != 1:
                return False
            row = self._row(session, conversation_key)
            if row is not None and row.followed_up:
                self._queue_followup(session, row, f"survey-followup-comment:{row.id}")
            return True

    def last_asked(self, customer_key: str, kind: str | None = None) -> datetime | None:
        """When this customer (on any channel) was last asked a survey, of ``kind`` if given."""
        with self.db.session() as session:
            query = select(func.max(SurveyRequest.asked_at)).where(SurveyRequest.customer_key == customer_key)
            if kind is not None:
                query = query.where(SurveyRequest.kind == kind)
            return session.scalar(query)

    # --- inside a transaction -----------------------------------------------------------

    @staticmethod
    def _row(session: Session, conversation_key: str) -> SurveyRequest | None:
        return session.scalars(
            select(SurveyRequest).where(SurveyRequest.conversation_key == conversation_key)
        ).first()

    @staticmethod
    def _settle(session: Session, conversation_key: str, values: dict[str, Any]) -> bool:
        changed = session.execute(
            update(SurveyRequest)
            .where(SurveyRequest.conversation_key == conversation_key, SurveyRequest.status == ASKED)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return changed.rowcount == 1

    @staticmethod
    def _wants_followup(row: SurveyRequest) -> bool:
        return row.trigger == AFTER_AGENT and row.handoff_id is not None and unhappy(row.kind, row.score)

    def _queue_followup(self, session: Session, row: SurveyRequest, dedupe_key: str) -> None:
        payload = {
            "handoff_id": row.handoff_id,
            "survey_id": row.id,
            "kind": row.kind,
            "score": row.score,
            "comment": row.comment,
            "channel": row.channel,
            "agent": row.agent_name,
            "destination": self.followup_channel,
        }
        if enqueue(session, desk_queue(int(row.handoff_id)), SURVEY_FOLLOWUP, payload, dedupe_key=dedupe_key):
            session.execute(
                update(SurveyRequest)
                .where(SurveyRequest.id == row.id)
                .values(followed_up=True)
                .execution_options(synchronize_session=False)
            )
