"""Moving a handoff between people and teams: transfer, assign, hand back to the queue.

Why a module of its own: a team of ten working shifts moves conversations all day (billing
to tech, to the agent who knows the customer, back to the queue at the end of a shift), and
each move changes the owner, the card, what the customer is told and which service targets
apply. Like ``HandoffStore``, every move and the deliveries it causes are one transaction,
so a crash can never leave a transferred handoff without its new card.

A transfer keeps the old card's ts on the row until the new card is posted (the relay's
``desk.post_card`` with ``transfer``): thread posts queued before the transfer still reach the
old thread, in order, and everything after goes to the new one.
"""

from __future__ import annotations

from bot.db import Sessions
from bot.handoff import states
from bot.handoff.models import Handoff
from bot.handoff.routing import Team
from bot.handoff.store import (
    POST_CARD,
    SAY_TO_CUSTOMER,
    UPDATE_CARD,
    HandoffRecord,
    HandoffStore,
    _record,
    customer_queue,
    desk_queue,
)
from bot.handoff.waiting_ack import customer_language
from bot.outbox import enqueue, utcnow
from bot.redact import redact
from bot.responses import render

# After a transfer: retire the old card, and post where it went / where it came from in both threads.
TRANSFER_NOTES = "desk.transfer_notes"
NOTE_LIMIT = 500
NO_TEAM = "the handoff channel"


def clean_note(note: str | None) -> str | None:
    """An agent's note travels with the handoff; it can quote the customer, so it is redacted."""
    text = " ".join(str(note or "").split())[:NOTE_LIMIT]
    return redact(text) if text else None


class HandoffMoves:
    """Transfer, assign and hand back; each method is one transaction (None: not allowed now)."""

    def __init__(self, db: Sessions) -> None:
        self.db = db

    def transfer(
        self, handoff_id: int, team: Team, *, by_name: str, note: str | None
    ) -> HandoffRecord | None:
        """To ``team``'s queue: a new card in its channel (its group mentioned), the old card retired.

        The claim does not travel (the new team picks it up); the SLA reminders start again for
        the new team's targets. None when it is not active, or already with that team.
        """
        note = clean_note(note)
        with self.db.session() as session:
            row = session.get(Handoff, handoff_id)
            if row is None or not states.can_transfer(row.status) or row.team == team.name:
                return None
            old_channel, old_ts, from_team = row.desk_channel, row.card_ts, row.team or NO_TEAM
            row.status = states.transfer(row.status)
            row.claimed_by = row.claimed_by_name = None
            row.transferred_from, row.transfer_note = from_team, note
            if old_ts is not None:
                row.earlier_cards = [*(row.earlier_cards or []), [old_channel or "", old_ts]]
            row.team, row.desk_channel, row.notify_group = team.name, team.channel, team.notify_group
            row.routing_why = f"transferred by {by_name} from {from_team}"
            row.queued_at = utcnow()
            row.first_reply_warned_at = row.resolution_warned_at = row.customer_updated_at = None
            enqueue(session, desk_queue(row.id), POST_CARD, {"handoff_id": row.id, "transfer": True})
            if old_ts is not None:
                enqueue(
                    session, desk_queue(row.id), TRANSFER_NOTES,
                    {"handoff_id": row.id, "old_channel": old_channel, "old_ts": old_ts,
                     "from_team": from_team, "to_team": team.name, "agent": by_name, "note": note},
                )  # fmt: skip
            return _record(row)

    def assign(
        self, handoff_id: int, agent_id: str, agent_name: str, *, by_name: str, note: str | None
    ) -> HandoffRecord | None:
        """Give it to a named agent: they own it as if they had claimed it, and are told in the thread."""
        fields = {"agent": agent_name, "by": by_name, "note": clean_note(note)}
        return HandoffStore(self.db).claim(handoff_id, agent_id, agent_name, announce=("assigned", fields))

    def hand_back(self, handoff_id: int) -> HandoffRecord | None:
        """The owner goes off shift: back to the team's queue, the customer told honestly."""
        with self.db.session() as session:
            row = session.get(Handoff, handoff_id)
            if row is None or not states.can_hand_back(row.status):
                return None
            previous = row.claimed_by_name or "an agent"
            row.status = states.hand_back(row.status)
            row.claimed_by = row.claimed_by_name = None
            row.queued_at, row.customer_updated_at = utcnow(), None
            enqueue(session, desk_queue(row.id), UPDATE_CARD, {"handoff_id": row.id})
            HandoffStore._notice(session, row.id, "handed_back", {"agent": previous})
            text = render("utter_agent_handed_back", language=customer_language(row), agent_name=previous)
            enqueue(
                session, customer_queue(row.conversation_id), SAY_TO_CUSTOMER,
                {"handoff_id": row.id, "conversation_id": row.conversation_id, "text": text, "notice": True},
            )  # fmt: skip
            return _record(row)
