"""Handing a conversation to a person, and the "didn't understand" fallback.

The handoff records why a person is needed and the full context packet, and tells the
customer what happens next. (The Slack relay that delivers it to an agent builds on the
same packet.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.common import SupportAction, channel_of, customer_store
from bot.context import ContextPacket, build_context_packet
from bot.customers import run_sync

logger = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"
REASON_NOT_UNDERSTOOD = "the assistant did not understand the customer twice in a row"

# Why a person is needed, by the intent that led to the handoff.
REASONS_BY_INTENT = {
    "human_handoff": "the customer asked for a person",
    "billing_dispute": "billing dispute (handled by people only)",
    "cancel_subscription": "wants to cancel their Fiber service (handled by people only)",
    "delete_account": "account deletion request (needs identity verification)",
    "complaint": "complaint: the customer is unhappy with the service",
    "out_of_scope": "question outside what the assistant covers",
}


def intent_of(event: Mapping[str, Any]) -> str | None:
    """Name of the intent Rasa detected for a user event (None for other events)."""
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def consecutive_fallbacks(events: Iterable[Mapping[str, Any]]) -> int:
    """How many of the latest customer messages in a row were not understood."""
    count = 0
    for event in reversed(list(events)):
        if event.get("event") != "user":
            continue
        if intent_of(event) != FALLBACK_INTENT:
            break
        count += 1
    return count


def handoff_reason(tracker: Tracker) -> str:
    """Why this conversation goes to a person, from the trigger recorded in the tracker."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    earlier = tracker.get_slot("handoff_reason")
    if intent == "affirm":  # accepted our offer of a person: keep what led to the offer
        previous = _previous_customer_intent(tracker.events) or ""
        return REASONS_BY_INTENT.get(previous, earlier or "the customer accepted the offer of a person")
    return REASONS_BY_INTENT.get(intent or "", earlier or "the customer asked for a person")


def _previous_customer_intent(events: list[dict[str, Any]]) -> str | None:
    users = [e for e in events if e.get("event") == "user"]
    if len(users) < 2:
        return None
    return intent_of(users[-2])


async def request_handoff(
    dispatcher: CollectingDispatcher, tracker: Tracker, reason: str
) -> tuple[list[EventType], ContextPacket | None]:
    """Record the handoff with its context packet and tell the customer a person is coming."""
    channel = channel_of(tracker)
    store = customer_store()
    packet: ContextPacket | None = None
    try:
        packet = await run_sync(
            build_context_packet,
            conversation_id=tracker.sender_id,
            channel=channel,
            events=tracker.events,
            slots=tracker.slots,
            reason=reason,
            store=store,
        )
        if packet.customer is not None:
            await run_sync(
                store.record_conversation,
                packet.customer.id,
                channel=channel,
                sender_id=tracker.sender_id,
                summary=_summary(packet),
                outcome="handed_off",
                handoff_reason=reason,
            )
        dispatcher.utter_message(response="utter_handoff")
    except SQLAlchemyError:
        logger.exception("handoff for %s: customer store unavailable", tracker.sender_id)
        dispatcher.utter_message(response="utter_handoff_store_down")
    logger.info("handoff requested for %s on %s: %s", tracker.sender_id, channel, reason)
    return [SlotSet("handoff_reason", reason)], packet


def _summary(packet: ContextPacket) -> str:
    said = [line.text for line in packet.transcript if line.role == "customer"][-3:]
    return "Handed to a person (" + packet.reason + "). Customer said: " + " / ".join(said)


class ActionHandoff(SupportAction):
    def name(self) -> str:
        return "action_handoff"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events, _ = await request_handoff(dispatcher, tracker, handoff_reason(tracker))
        return events


class ActionFallback(SupportAction):
    """First miss: ask to rephrase. Second miss in a row: offer a person, never guess."""

    def name(self) -> str:
        return "action_fallback"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if consecutive_fallbacks(tracker.events) >= 2:
            return [
                SlotSet("handoff_reason", REASON_NOT_UNDERSTOOD),
                FollowupAction("utter_offer_human"),
            ]
        dispatcher.utter_message(response="utter_ask_rephrase")
        return []
