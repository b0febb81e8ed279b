"""The handoff relay: customer ↔ agent, whichever desk (Slack or local inbox) is in use.

Inbound calls (a customer event from Rasa, an agent's thread reply, Claim, Resolve, the
claim timeout) only change database state and queue deliveries; ``deliver`` carries out
one queued item. Keeping the two apart is what makes the relay restart-safe: anything
accepted is in the database before we answer Slack, and is delivered exactly in order.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.business import HandoffSettings
from bot.context import transcript_from_events
from bot.customers import run_sync
from bot.customers.records import to_jsonable
from bot.handoff import blocks
from bot.handoff.desk import AgentDesk
from bot.handoff.rasa_api import RasaAPI
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

logger = logging.getLogger(__name__)

# After this many failed deliveries to a customer, the agent is told in the thread.
WARN_AGENT_AFTER = 3


def card_state(handoff: HandoffRecord) -> blocks.CardState:
    """How the card shows this handoff now (rendered again on every change)."""
    note = None
    if handoff.status == "timed_out":
        note = "No one claimed it in time — the assistant offered to take a message."
    elif handoff.status == "after_hours":
        note = "Opened outside business hours — the assistant offered to take a message."
    if handoff.followup_message:
        note = (note + " " if note else "") + "The customer left a message (see thread)."
    return blocks.CardState(
        handoff_id=handoff.id,
        status=handoff.status,
        claimed_by=handoff.claimed_by_name,
        resolved_by=handoff.resolved_by_name,
        note=note,
    )


class Relay:
    def __init__(
        self, store: HandoffStore, desk: AgentDesk, rasa: RasaAPI, settings: HandoffSettings
    ) -> None:
        self.store = store
        self.desk = desk
        self.rasa = rasa
        self.settings = settings

    # --- from customers (Rasa's event stream) -----------------------------------------

    async def on_rasa_event(self, sender_id: str, event: dict[str, Any]) -> bool:
        """A Rasa event: customer messages of a handed-off conversation go to the thread."""
        if event.get("event") != "user":
            return False
        text = str(event.get("text") or "").strip() or "(sent a message without text, e.g. an attachment)"
        timestamp = float(event.get("timestamp") or 0.0)
        return await run_sync(self.store.relay_customer_message, sender_id, text, timestamp)

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
        if handoff.status == "resolved":
            await run_sync(
                self.store.post_notice, handoff.id, blocks.status_text("not_sent_resolved"),
                f"resolved-notice:{message_ts}",
            )  # fmt: skip
            return "handoff-resolved"
        name = await self.desk.agent_name(agent_id)
        if handoff.status != "claimed" or handoff.claimed_by != agent_id:
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

    async def check_timeouts(self) -> list[HandoffRecord]:
        expired = await run_sync(self.store.time_out_unclaimed, self.settings.claim_timeout)
        for handoff in expired:
            logger.info("handoff %s: nobody claimed it in time; the bot offers to take a message", handoff.id)
        return expired

    async def transcript_view(self, handoff_id: int) -> dict[str, Any]:
        """The full-transcript modal, from the live tracker (falls back to the card's copy)."""
        handoff = await run_sync(self.store.get, handoff_id)
        if handoff is None:
            return blocks.transcript_modal({"transcript": []})
        try:
            tracker = await self.rasa.tracker(handoff.conversation_id)
            lines = to_jsonable(transcript_from_events(tracker.get("events") or []))
        except Exception:
            logger.warning(
                "handoff %s: tracker unavailable, showing the transcript from the card", handoff_id
            )
            lines = None
        return blocks.transcript_modal(handoff.packet, lines)

    # --- deliveries (called by the outbox worker) --------------------------------------

    async def deliver(self, item: OutboxRecord) -> None:
        handoff = await run_sync(self.store.get, int(item.payload["handoff_id"]))
        if handoff is None:
            return  # deleted: nothing left to deliver to
        if item.kind == POST_CARD:
            await self._post_card(handoff)
        elif item.kind == UPDATE_CARD:
            if handoff.card_ts is None:
                raise RetryLater("card not posted yet")
            state = card_state(handoff)
            await self.desk.update(
                handoff.desk_channel or "", handoff.card_ts,
                blocks.card_text(handoff.packet, state), blocks.card_blocks(handoff.packet, state),
            )  # fmt: skip
        elif item.kind == POST_THREAD:
            if handoff.card_ts is None:
                raise RetryLater("card not posted yet")
            await self.desk.post(self._thread_text(item.payload), thread_ts=handoff.card_ts)
        elif item.kind == SAY_TO_CUSTOMER:
            await self._say_to_customer(handoff, item)
        elif item.kind == RESUME_BOT:
            await self.rasa.resume(handoff.conversation_id, str(item.payload["intent"]))
        elif item.kind == PAUSE_BOT:
            await self.rasa.pause(handoff.conversation_id)
        else:
            logger.error("outbox item %s has unknown kind %r; dropped", item.id, item.kind)

    async def _post_card(self, handoff: HandoffRecord) -> None:
        if handoff.card_ts is not None:
            return  # posted before a crash, just not marked delivered
        state = card_state(handoff)
        channel, ts = await self.desk.post(
            blocks.card_text(handoff.packet, state), blocks.card_blocks(handoff.packet, state)
        )
        await run_sync(self.store.set_card, handoff.id, channel, ts)
        await self.desk.post(
            blocks.status_text("how_to", prefix=self.settings.internal_note_prefix), thread_ts=ts
        )

    @staticmethod
    def _thread_text(payload: dict[str, Any]) -> str:
        kind, text = payload.get("kind"), str(payload.get("text") or "")
        if kind == "customer":
            return blocks.customer_message_text(text)
        if kind == "followup":
            return blocks.status_text("followup", text=text)
        return text  # our own notice, already formatted

    async def _say_to_customer(self, handoff: HandoffRecord, item: OutboxRecord) -> None:
        payload = item.payload
        conversation = handoff.conversation_id
        if item.attempts and await self.rasa.has_message_with(conversation, "outbox_id", item.id):
            return  # got through last time; only the acknowledgement was lost
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
            await self.rasa.say(conversation, str(payload["text"]), metadata, custom)
        except Exception as exc:
            if item.attempts + 1 == WARN_AGENT_AFTER and not payload.get("notice"):
                await run_sync(
                    self.store.post_notice, handoff.id,
                    blocks.status_text("delivery_failed", error=str(exc)[:200]), f"delivery-failed:{item.id}",
                )  # fmt: skip
            raise
