"""The handoff relay: customer ↔ agent, whichever desk (Slack or local inbox) is in use.

Inbound calls (a customer event from Rasa, an agent's thread reply, Claim, Resolve, the
claim timeout) only change database state and queue deliveries; ``deliver`` carries out
one queued item. Keeping the two apart is what makes the relay restart-safe: anything
accepted is in the database before we answer Slack, and is delivered exactly in order.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from bot.business import HandoffSettings
from bot.context import is_internal, transcript_from_events
from bot.customers.records import to_jsonable
from bot.db import run_sync
from bot.handoff.desks.base import CardRef, CardState, Desk, Notice, card_state, notice_kind
from bot.handoff.moves import TRANSFER_NOTES, HandoffMoves
from bot.handoff.rasa_api import RasaAPI
from bot.handoff.routing import load_routing_settings
from bot.handoff.states import HandoffStatus
from bot.handoff.store import (
    PAUSE_BOT,
    POST_CARD,
    POST_THREAD,
    RESUME_BOT,
    SAY_TO_CUSTOMER,
    UPDATE_CARD,
    HandoffRecord,
    HandoffStore,
)
from bot.outbox import OutboxRecord, RetryLater
from bot.surveys.store import SURVEY_FOLLOWUP

logger = logging.getLogger(__name__)

# After this many failed deliveries to a customer, the agent is told in the thread.
WARN_AGENT_AFTER = 3
# Seconds of clock difference allowed when looking for what an earlier attempt did.
CLOCK_SLACK = 300


def _epoch(item: OutboxRecord) -> float:
    """When the item was queued, in epoch seconds (the outbox stores naive UTC)."""
    created = item.created_at or datetime.now(timezone.utc).replace(tzinfo=None)
    return created.replace(tzinfo=timezone.utc).timestamp()


def thread_summary(events: list[dict[str, Any]], *, since: float, lines: int = 6, limit: int = 160) -> str:
    """The latest ``lines`` customer and agent messages after ``since`` ("Customer: …", "Alex: …")."""
    said = []
    for event in events:
        if float(event.get("timestamp") or 0) <= since or not event.get("text"):
            continue
        if event.get("event") == "user" and not is_internal(event):
            who = "Customer"
        elif event.get("event") == "bot" and (event.get("metadata") or {}).get("agent_name"):
            who = str(event["metadata"]["agent_name"])
        else:
            continue
        text = " ".join(str(event["text"]).split())
        said.append(f"{who}: {text[:limit]}{'…' if len(text) > limit else ''}")
    return " · ".join(said[-lines:])


def _card(handoff: HandoffRecord) -> CardRef:
    """Where the handoff's card is; not posted yet means the delivery is retried later."""
    if handoff.card_ts is None:
        raise RetryLater("card not posted yet")
    return CardRef(handoff.desk_channel or "", handoff.card_ts)


class Relay:
    def __init__(self, store: HandoffStore, desk: Desk, rasa: RasaAPI, settings: HandoffSettings) -> None:
        self.store = store
        self.desk = desk
        self.rasa = rasa
        self.settings = settings
        self.moves = HandoffMoves(store.db)

    # --- from customers (Rasa's event stream) -----------------------------------------

    async def on_rasa_event(self, sender_id: str, event: dict[str, Any]) -> bool:
        """A Rasa event: customer messages of a handed-off conversation go to the thread.

        Only messages from the handoff's own channel: the same conversation id reached
        from another channel is someone else (see ``HandoffStore.relay_customer_message``).
        """
        if event.get("event") != "user" or is_internal(event):
            return False  # not the customer (the system's own EXTERNAL_ triggers are not relayed)
        text = str(event.get("text") or "").strip() or "(sent a message without text, e.g. an attachment)"
        timestamp = float(event.get("timestamp") or 0.0)
        channel = str(event.get("input_channel") or "")
        return await run_sync(self.store.relay_customer_message, sender_id, text, timestamp, channel=channel)

    # --- from agents -------------------------------------------------------------------

    async def on_agent_message(self, *, thread_ts: str, message_ts: str, agent_id: str, text: str) -> str:
        """An agent wrote in a handoff thread. Returns what happened (for logs and tests)."""
        handoff = await run_sync(self.store.by_card, thread_ts)
        if handoff is None:
            return "not-a-handoff-thread"
        if text.lstrip().startswith(self.settings.internal_note_prefix):
            return "internal-note"
        if not text.strip():
            return "empty"
        if handoff.status == HandoffStatus.RESOLVED:
            await run_sync(
                self.store.post_notice, handoff.id, Notice.NOT_SENT_RESOLVED,
                dedupe_key=f"resolved-notice:{message_ts}",
            )  # fmt: skip
            return "handoff-resolved"
        name = await self.desk.agent_name(agent_id)
        if handoff.status != HandoffStatus.CLAIMED or handoff.claimed_by != agent_id:
            await run_sync(self.store.claim, handoff.id, agent_id, name)  # replying takes ownership
        queued = await run_sync(
            self.store.relay_agent_message,
            handoff.id, message_ts=message_ts, agent_id=agent_id, agent_name=name, text=text,
        )  # fmt: skip
        return "relayed" if queued else "duplicate"

    async def claim(self, handoff_id: int, agent_id: str) -> HandoffRecord | None:
        return await run_sync(self.store.claim, handoff_id, agent_id, await self.desk.agent_name(agent_id))

    async def resolve(self, handoff_id: int, agent_id: str) -> HandoffRecord | None:
        return await run_sync(self.store.resolve, handoff_id, await self.desk.agent_name(agent_id))

    async def transfer(
        self, handoff_id: int, team_name: str, by_id: str, note: str | None
    ) -> HandoffRecord | None:
        """To another team of business.yml ``routing:``; None if unknown, not active or already there."""
        team = load_routing_settings().teams.get(team_name)
        if team is None:
            return None
        by_name = await self.desk.agent_name(by_id)
        return await run_sync(lambda: self.moves.transfer(handoff_id, team, by_name=by_name, note=note))

    async def assign(
        self, handoff_id: int, agent_id: str, by_id: str, note: str | None
    ) -> HandoffRecord | None:
        """To a named agent (who must be one: the desk checks that before calling)."""
        name, by_name = await self.desk.agent_name(agent_id), await self.desk.agent_name(by_id)
        return await run_sync(
            lambda: self.moves.assign(handoff_id, agent_id, name, by_name=by_name, note=note)
        )

    async def hand_back(self, handoff_id: int) -> HandoffRecord | None:
        return await run_sync(self.moves.hand_back, handoff_id)

    async def check_timeouts(self) -> list[HandoffRecord]:
        expired = await run_sync(self.store.time_out_unclaimed, self.settings.claim_timeout)
        for handoff in expired:
            logger.info("handoff %s: nobody claimed it in time; the bot offers to take a message", handoff.id)
        return expired

    async def transcript_view(self, handoff_id: int) -> Any:
        """The full transcript in the desk's format, from the live tracker (falls back to the card's copy)."""
        handoff = await run_sync(self.store.get, handoff_id)
        if handoff is None:
            return self.desk.transcript({"transcript": []})
        try:
            tracker = await self.rasa.tracker(handoff.conversation_id)
            lines = to_jsonable(transcript_from_events(tracker.get("events") or []))
        except Exception:
            logger.warning(
                "handoff %s: tracker unavailable, showing the transcript from the card", handoff_id
            )
            lines = None
        return self.desk.transcript(handoff.packet, lines)

    # --- deliveries (called by the outbox worker) --------------------------------------

    async def deliver(self, item: OutboxRecord) -> None:
        handoff = await run_sync(self.store.get, int(item.payload["handoff_id"]))
        if handoff is None:
            return  # deleted: nothing left to deliver to
        if item.kind == POST_CARD:
            await self._post_card(handoff, item)
        elif item.kind == UPDATE_CARD:  # chat.update / a row update: the same card again, harmless
            await self.desk.show_card(handoff.packet, card_state(handoff), _card(handoff))
        elif item.kind == POST_THREAD:
            card = _card(handoff)
            if item.in_doubt and await self.desk.find_delivery(item.key, card):
                return  # posted by an attempt whose acknowledgement was lost (a crash, a timeout)
            await self._post_thread(card, item)
        elif item.kind == SAY_TO_CUSTOMER:
            await self._say_to_customer(handoff, item)
        elif item.kind == RESUME_BOT:
            intent = str(item.payload["intent"])
            if item.in_doubt and await self._triggered_since(handoff.conversation_id, intent, _epoch(item)):
                return  # the bot already came back: triggering again would greet the customer twice
            await self.rasa.resume(handoff.conversation_id, intent, channel=handoff.channel)
        elif item.kind == PAUSE_BOT:
            await self.rasa.pause(handoff.conversation_id)
        elif item.kind == SURVEY_FOLLOWUP:
            await self._post_survey_followup(handoff, item)
        elif item.kind == TRANSFER_NOTES:
            await self._transfer_notes(handoff, item)
        else:
            logger.error("outbox item %s has unknown kind %r; dropped", item.id, item.kind)

    async def _post_card(self, handoff: HandoffRecord, item: OutboxRecord) -> None:
        """The card, then the how-to in its thread; each at most once, even across a crash."""
        # A transfer's card is a new one in the new team's channel (the row still has the old one).
        fresh = bool(item.payload.get("transfer"))
        card = _card(handoff) if handoff.card_ts is not None and not fresh else None
        if card is None and item.in_doubt:  # posted before a crash, but not recorded?
            card = await self.desk.find_delivery(item.key, None, channel=handoff.desk_channel)
            if card is not None:
                await run_sync(self.store.set_card, handoff.id, card.channel, card.ts)
        if card is None:
            card = await self.desk.show_card(
                handoff.packet, card_state(handoff), None, key=item.key, channel=handoff.desk_channel
            )
            await run_sync(self.store.set_card, handoff.id, card.channel, card.ts)
        elif item.in_doubt and await self.desk.find_delivery(f"{item.key}:how-to", card):
            return
        await self.desk.post_notice(
            card, Notice.HOW_TO, key=f"{item.key}:how-to", prefix=self.settings.internal_note_prefix
        )

    async def _transfer_notes(self, handoff: HandoffRecord, item: OutboxRecord) -> None:
        """After a transfer's new card: the old card goes read-only and both threads say where it went."""
        payload = item.payload
        old, new = CardRef(str(payload["old_channel"] or ""), str(payload["old_ts"])), _card(handoff)
        retired = CardState(
            handoff_id=handoff.id, status=handoff.status, team=payload.get("from_team"),
            moved_to=str(payload.get("to_team") or "another team"),
        )  # fmt: skip
        await self.desk.show_card(handoff.packet, retired, old)
        common = {"agent": payload.get("agent"), "note": payload.get("note")}
        if not (item.in_doubt and await self.desk.find_delivery(f"{item.key}:out", old)):
            await self.desk.post_notice(
                old, Notice.TRANSFERRED_OUT, key=f"{item.key}:out", team=payload.get("to_team"),
                link=await self.desk.permalink(new), **common,
            )  # fmt: skip
        if not (item.in_doubt and await self.desk.find_delivery(f"{item.key}:in", new)):
            await self.desk.post_notice(
                new, Notice.TRANSFERRED_IN, key=f"{item.key}:in", from_team=payload.get("from_team"),
                summary=await self._summary(handoff), link=await self.desk.permalink(old), **common,
            )  # fmt: skip

    async def _summary(self, handoff: HandoffRecord) -> str:
        """The thread so far in a few lines (customer and agents since the handoff), for the new team."""
        try:
            events = (await self.rasa.tracker(handoff.conversation_id)).get("events") or []
        except Exception:
            logger.warning("handoff %s: tracker unavailable, no summary for the transfer", handoff.id)
            return ""
        return thread_summary(events, since=handoff.relay_after)

    async def _post_survey_followup(self, handoff: HandoffRecord, item: OutboxRecord) -> None:
        """An unhappy survey answer after this handoff (bot/surveys/store.py), posted once."""
        card = _card(handoff)
        payload = item.payload
        destination = str(payload.get("destination") or "") or None
        where = None if destination else card
        if item.in_doubt and await self.desk.find_delivery(item.key, where, channel=destination):
            return
        fields = {name: payload.get(name) for name in ("score", "comment", "agent")}
        fields["survey"] = payload.get("kind")  # "kind" is the notice's own argument
        await self.desk.post_survey_followup(
            card, destination=destination, key=item.key, handoff_id=handoff.id, **fields
        )

    async def _triggered_since(self, conversation_id: str, intent: str, since: float) -> bool:
        """Whether Rasa recorded ``intent`` (an external trigger) for the conversation after ``since``."""
        events = (await self.rasa.tracker(conversation_id)).get("events") or []
        return any(
            e.get("event") == "user"
            and ((e.get("parse_data") or {}).get("intent") or {}).get("name") == intent
            and float(e.get("timestamp") or 0) >= since - CLOCK_SLACK
            for e in events
        )

    async def on_dead_letter(self, item: OutboxRecord, reason: str) -> None:
        """A delivery was given up (bot/outbox.py): tell the agents in the handoff's thread.

        Not for the card itself (there is no thread to post in) nor for a notice about another
        dead letter (no loop): those are only logged and counted on ``/health``.
        """
        payload = item.payload
        if item.kind == POST_CARD or payload.get("notice") == Notice.GAVE_UP.value:
            return
        await run_sync(
            self.store.post_notice, int(payload["handoff_id"]), Notice.GAVE_UP,
            {"what": item.kind, "error": reason[:300]}, dedupe_key=f"gave-up:{item.id}",
        )  # fmt: skip

    async def _post_thread(self, card: CardRef, item: OutboxRecord) -> None:
        payload = item.payload
        kind = payload.get("kind")
        text = str(payload.get("text") or "")
        if kind == "customer":
            await self.desk.post_customer_message(card, text, key=item.key)
        elif kind == "followup":
            await self.desk.post_notice(card, Notice.FOLLOWUP, key=item.key, text=text)
        elif payload.get("notice"):
            fields = payload.get("fields") or {}
            await self.desk.post_notice(card, notice_kind(payload["notice"]), key=item.key, **fields)
        else:  # a notice queued by a version that stored Slack text: its wording is gone, not its news
            logger.warning("outbox item %s: notice without a kind (older version); dropped", item.id)

    async def _say_to_customer(self, handoff: HandoffRecord, item: OutboxRecord) -> None:
        payload = item.payload
        conversation = handoff.conversation_id
        if item.in_doubt and await self.rasa.has_message_with(conversation, "outbox_id", item.id):
            return  # got through last time (even if a crash left attempts at 0); only the answer was lost
        metadata = {
            "handoff_id": handoff.id,
            "agent_id": payload.get("agent_id"),
            "agent_name": payload.get("agent_name"),
            "outbox_id": item.id,
            "desk": self.desk.name,
        }
        custom = None
        if payload.get("notice") and payload.get("agent_name"):  # "Alex has joined": tell the widget too
            custom = {"handoff": {"state": "agent", "agent": payload["agent_name"]}}
        try:
            await self.rasa.say(conversation, str(payload["text"]), metadata, custom, channel=handoff.channel)
        except Exception as exc:
            if item.attempts + 1 == WARN_AGENT_AFTER and not payload.get("notice"):
                await run_sync(
                    self.store.post_notice, handoff.id, Notice.DELIVERY_FAILED,
                    {"error": str(exc)[:200]}, dedupe_key=f"delivery-failed:{item.id}",
                )  # fmt: skip
            raise
