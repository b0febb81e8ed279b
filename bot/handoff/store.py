"""Handoff state and its deliveries (the durable outbox), on the shared database (bot/db.py).

Every state change and the deliveries it causes are written in one transaction, so a
crash can never leave a claimed handoff without its card update or a resolved one without
the message that hands the customer back to the bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select

from bot.business import load_business_settings
from bot.handoff import states
from bot.handoff.desk_store import DeskStore
from bot.handoff.models import Handoff
from bot.handoff.routing import Route
from bot.handoff.states import ACTIVE, HandoffStatus
from bot.handoff.waiting_ack import acknowledge_waiting, customer_language, expected_wait
from bot.outbox import Outbox, enqueue, utcnow
from bot.redact import redact
from bot.responses import render

# Outbox kinds: "desk.*" go to the agents (Slack or the local inbox), "customer.*" to the
# customer's conversation through the Rasa HTTP API.
POST_CARD = "desk.post_card"
UPDATE_CARD = "desk.update_card"
POST_THREAD = "desk.post_thread"
SAY_TO_CUSTOMER = "customer.say"
RESUME_BOT = "customer.resume"
PAUSE_BOT = "customer.pause"

# Conversations made up by ``python -m bot demo-month`` (bot/experience/demo.py). Their
# handoffs "waiting right now" have no customer to tell and no card to update, so the claim
# timeout leaves them alone: timing them out would send a demo handoff's notices to the
# real Slack channel.
DEMO_SENDER_PREFIX = "demo-"


@dataclass(frozen=True)
class HandoffRecord:
    id: int
    conversation_id: str
    channel: str
    customer_id: int | None
    reason: str
    status: HandoffStatus
    packet: dict[str, Any]
    relay_after: float
    desk_channel: str | None
    card_ts: str | None
    team: str | None
    routing_why: str | None
    notify_group: str | None
    claimed_by: str | None
    claimed_by_name: str | None
    resolved_by_name: str | None
    followup_message: str | None
    created_at: datetime
    claimed_at: datetime | None
    resolved_at: datetime | None
    queued_at: datetime | None = None
    first_agent_reply_at: datetime | None = None
    last_agent_reply_at: datetime | None = None
    first_reply_warned_at: datetime | None = None
    resolution_warned_at: datetime | None = None
    customer_updated_at: datetime | None = None
    transferred_from: str | None = None
    transfer_note: str | None = None
    earlier_cards: list[list[str]] | None = None

    @property
    def is_active(self) -> bool:
        """A person has (or is about to have) the conversation: the bot stays quiet."""
        return self.status in ACTIVE


def _record(row: Handoff) -> HandoffRecord:
    values = {column.name: getattr(row, column.name) for column in Handoff.__table__.columns}
    return HandoffRecord(**{**values, "status": states.parse(values["status"])})


def desk_queue(handoff_id: int) -> str:
    return f"desk:{handoff_id}"


def customer_queue(conversation_id: str) -> str:
    return f"customer:{conversation_id}"


class HandoffStore(DeskStore):
    """Typed operations on the handoff tables; each method is one transaction.

    The local inbox's posts (``desk_post`` …) are inherited from ``DeskStore``
    (bot/handoff/desk_store.py), on the same database.
    """

    # --- opening -----------------------------------------------------------------------

    def open_handoff(
        self,
        *,
        conversation_id: str,
        channel: str,
        customer_id: int | None,
        reason: str,
        packet: dict[str, Any],
        relay_after: float,
        status: HandoffStatus = HandoffStatus.WAITING,
        route: Route | None = None,
    ) -> tuple[HandoffRecord, bool]:
        """Open a handoff and queue its card; (record, False) if one is already active.

        ``route`` (bot/handoff/routing.py): the team it goes to; its channel becomes the card's
        ``desk_channel`` (None: the desk's handoff channel) and the card names the team and why.
        """
        with self.db.session() as session:
            existing = session.scalars(
                select(Handoff)
                .where(Handoff.conversation_id == conversation_id, Handoff.status.in_(ACTIVE))
                .order_by(Handoff.id.desc())
            ).first()
            if existing is not None:
                return _record(existing), False
            row = Handoff(
                conversation_id=conversation_id,
                channel=channel,
                customer_id=customer_id,
                reason=reason,
                status=status,
                packet=packet,
                relay_after=relay_after,
                created_at=(now := utcnow()),
                queued_at=now,
                desk_channel=route.team.channel if route else None,
                team=route.team.name if route else None,
                routing_why=route.why if route else None,
                notify_group=route.team.notify_group if route else None,
            )
            session.add(row)
            session.flush()
            enqueue(session, desk_queue(row.id), POST_CARD, {"handoff_id": row.id})
            return _record(row), True

    # --- lookups -----------------------------------------------------------------------

    def get(self, handoff_id: int) -> HandoffRecord | None:
        with self.db.session() as session:
            row = session.get(Handoff, handoff_id)
            return _record(row) if row else None

    def by_card(self, card_ts: str) -> HandoffRecord | None:
        """The handoff whose card (thread parent) has this Slack ts."""
        with self.db.session() as session:
            row = session.scalars(select(Handoff).where(Handoff.card_ts == card_ts)).first()
            return _record(row) if row else None

    def latest_for(self, conversation_id: str) -> HandoffRecord | None:
        with self.db.session() as session:
            row = session.scalars(
                select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id.desc())
            ).first()
            return _record(row) if row else None

    def list_active(self) -> list[HandoffRecord]:
        """Every waiting or claimed handoff, oldest first (the App Home queue reads it once a round)."""
        with self.db.session() as session:
            rows = session.scalars(select(Handoff).where(Handoff.status.in_(ACTIVE)).order_by(Handoff.id))
            return [_record(row) for row in rows]

    def list_recent(self, limit: int = 50) -> list[HandoffRecord]:
        with self.db.session() as session:
            rows = session.scalars(select(Handoff).order_by(Handoff.id.desc()).limit(limit))
            return [_record(row) for row in rows]

    def expected_wait_minutes(self, default: float, sample: int = 20, *, team: str | None = None) -> float:
        """Median time to claim over the latest claimed handoffs, or ``default`` without data.

        With ``team``, only that team's handoffs count: a busy billing desk does not make the
        VIP desk's customers expect a long wait.
        """
        with self.db.session() as session:
            return expected_wait(session, default, sample, team)

    # --- state changes -----------------------------------------------------------------

    def set_card(self, handoff_id: int, desk_channel: str, card_ts: str) -> None:
        with self.db.session() as session:
            row = session.get(Handoff, handoff_id)
            row.desk_channel, row.card_ts = desk_channel, card_ts

    def claim(
        self, handoff_id: int, agent_id: str, agent_name: str, *, announce: tuple[str, Any] | None = None
    ) -> HandoffRecord | None:
        """Make the agent the owner; None if the handoff is already resolved or unknown.

        Claiming one that timed out pauses the bot again: a person is back on it. ``announce``:
        a notice (kind, fields) for the thread instead of "taken over", e.g. when a lead assigns
        it (bot/handoff/moves.py); it is posted even if the agent already had it.
        """
        with self.db.session() as session:
            row = session.get(Handoff, handoff_id)
            if row is None or not states.can_claim(row.status):
                return None
            if row.status == HandoffStatus.CLAIMED and row.claimed_by == agent_id:
                if announce is not None:
                    self._notice(session, row.id, *announce)
                return _record(row)  # a double click changes nothing
            if row.status == HandoffStatus.CLAIMED and announce is None:  # a lead takes over (access.py)
                self._notice(
                    session, row.id, "taken_over", {"agent": agent_name, "previous": row.claimed_by_name}
                )
            if states.claim_pauses_bot(row.status):
                enqueue(
                    session, customer_queue(row.conversation_id), PAUSE_BOT,
                    {"handoff_id": row.id, "conversation_id": row.conversation_id},
                )  # fmt: skip
            row.status, row.claimed_by, row.claimed_by_name = states.claim(row.status), agent_id, agent_name
            row.claimed_at = row.claimed_at or utcnow()
            row.customer_updated_at = utcnow()  # "… has joined" is the customer's latest update
            enqueue(session, desk_queue(row.id), UPDATE_CARD, {"handoff_id": row.id})
            if announce is not None:
                self._notice(session, row.id, *announce)
            enqueue(
                session, customer_queue(row.conversation_id), SAY_TO_CUSTOMER,
                {
                    "handoff_id": row.id, "conversation_id": row.conversation_id,
                    "text": render("utter_agent_joined", language=customer_language(row),
                                   agent_name=agent_name),
                    "agent_name": agent_name, "agent_id": agent_id, "notice": True,
                },
            )  # fmt: skip
            return _record(row)

    def resolve(self, handoff_id: int, agent_name: str) -> HandoffRecord | None:
        """Hand the conversation back to the bot; None if it was already resolved."""
        with self.db.session() as session:
            row = session.get(Handoff, handoff_id)
            if row is None or not states.can_resolve(row.status):
                return None
            was_paused = states.resolve_resumes_bot(row.status)
            row.status = states.resolve(row.status)
            row.resolved_by_name, row.resolved_at = agent_name, utcnow()
            enqueue(session, desk_queue(row.id), UPDATE_CARD, {"handoff_id": row.id})
            if was_paused:
                enqueue(
                    session, customer_queue(row.conversation_id), RESUME_BOT,
                    {"handoff_id": row.id, "conversation_id": row.conversation_id,
                     "intent": "EXTERNAL_handoff_resolved"},
                )  # fmt: skip
            return _record(row)

    def time_out_unclaimed(self, timeout: timedelta, now: datetime | None = None) -> list[HandoffRecord]:
        """Waiting handoffs nobody claimed in time (since they joined the queue, ``queued_at``: a
        transfer or a hand-back starts the clock again): the bot comes back and offers to take a message."""
        cutoff = (now or utcnow()) - timeout
        with self.db.session() as session:
            rows = session.scalars(
                select(Handoff).where(
                    Handoff.status == HandoffStatus.WAITING,
                    func.coalesce(Handoff.queued_at, Handoff.created_at) <= cutoff,
                    Handoff.conversation_id.notlike(f"{DEMO_SENDER_PREFIX}%"),
                )
            ).all()
            for row in rows:
                row.status = states.time_out(row.status)
                enqueue(session, desk_queue(row.id), UPDATE_CARD, {"handoff_id": row.id})
                enqueue(
                    session, customer_queue(row.conversation_id), RESUME_BOT,
                    {"handoff_id": row.id, "conversation_id": row.conversation_id,
                     "intent": "EXTERNAL_handoff_unanswered"},
                )  # fmt: skip
            return [_record(row) for row in rows]

    def record_followup(self, conversation_id: str, message: str) -> HandoffRecord | None:
        """The message a customer left when no one could take over; shown in the card's thread.

        Stored redacted (bot.redact): the row and the queued thread post outlive the chat.
        """
        message = redact(message)
        with self.db.session() as session:
            row = session.scalars(
                select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id.desc())
            ).first()
            if row is None:
                return None
            row.followup_message = message
            enqueue(session, desk_queue(row.id), UPDATE_CARD, {"handoff_id": row.id})
            enqueue(
                session, desk_queue(row.id), POST_THREAD,
                {"handoff_id": row.id, "kind": "followup", "text": message},
            )  # fmt: skip
            return _record(row)

    # --- relaying ----------------------------------------------------------------------

    def relay_customer_message(
        self, conversation_id: str, text: str, timestamp: float, *, channel: str | None = None
    ) -> bool:
        """Queue a customer message for the thread of the conversation's active handoff.

        False when no person has the conversation, the message is already on the card, or
        ``channel`` (the event's input channel; the relay always gives it) is not the one
        the handoff was opened on: a message that reached the same conversation id from
        another channel is not the customer the agent is talking to.
        Idempotent: the same Rasa event twice is queued once.
        """
        with self.db.session() as session:
            # Every customer message passes here. `or_` rather than `in_`: an IN list is
            # compiled again on every call (SQLAlchemy 1.4), measured as most of this call.
            active = or_(*(Handoff.status == status for status in ACTIVE))
            row = session.scalars(
                select(Handoff)
                .where(Handoff.conversation_id == conversation_id, active)
                .order_by(Handoff.id.desc())
            ).first()
            if row is None or timestamp <= row.relay_after:
                return False
            if channel is not None and row.channel != channel:
                return False
            queued = enqueue(
                session, desk_queue(row.id), POST_THREAD,
                {"handoff_id": row.id, "kind": "customer", "text": text},
                dedupe_key=f"customer-message:{conversation_id}:{timestamp!r}",
            )  # fmt: skip
            if queued:  # "hello? anyone there?": heard, once per stage (bot/handoff/waiting_ack.py)
                default_wait = load_business_settings().handoff.expected_wait_minutes
                acknowledge_waiting(
                    session, row, utcnow(), default_wait, customer_queue(conversation_id), SAY_TO_CUSTOMER
                )
            return queued

    def relay_agent_message(
        self, handoff_id: int, *, message_ts: str, agent_id: str, agent_name: str, text: str
    ) -> bool:
        """Queue an agent's thread reply for the customer; once per Slack message ts (and note when)."""
        with self.db.session() as session:
            row = session.get(Handoff, handoff_id)
            if row is None:
                return False
            queued = enqueue(
                session, customer_queue(row.conversation_id), SAY_TO_CUSTOMER,
                {"handoff_id": row.id, "conversation_id": row.conversation_id, "text": text,
                 "agent_name": agent_name, "agent_id": agent_id},
                dedupe_key=f"agent-message:{message_ts}",
            )  # fmt: skip
            if queued:  # the SLA's first reply, and the clock of "still looking into it" updates
                row.last_agent_reply_at = utcnow()
                row.first_agent_reply_at = row.first_agent_reply_at or row.last_agent_reply_at
            return queued

    def post_notice(
        self, handoff_id: int, notice: str, fields: Any = None, *, dedupe_key: str | None = None
    ) -> bool:
        """Queue a notice (a ``bot.handoff.desks.Notice`` and its fields) for the card's thread.

        The kind and fields are stored, not text: each desk words and formats it itself.
        """
        with self.db.session() as session:
            return self._notice(session, handoff_id, str(notice), fields, dedupe_key=dedupe_key)

    @staticmethod
    def _notice(
        session: Any, handoff_id: int, notice: str, fields: Any = None, *, dedupe_key: str | None = None
    ) -> bool:
        """Queue a thread notice inside the caller's transaction."""
        return enqueue(
            session, desk_queue(handoff_id), POST_THREAD,
            {"handoff_id": handoff_id, "kind": "notice", "notice": notice, "fields": fields or {}},
            dedupe_key=dedupe_key,
        )  # fmt: skip

    # --- outbox ------------------------------------------------------------------------

    def outbox(self) -> Outbox:
        """The relay's queues: to agents (``desk:<handoff>``) and to customers (``customer:<id>``)."""
        return Outbox(self.db.session, prefixes=("desk:", "customer:"))
