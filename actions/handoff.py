"""Handing a conversation to a person, handing it back, and the "didn't understand" fallback.

``request_handoff`` is the one way into a handoff: it builds the context packet, opens the
handoff in the database (which queues the agent card for the relay, see bot/handoff/),
tells the customer what happens next and pauses the bot (``ConversationPaused``), so Rasa
keeps recording what the customer writes but stops answering until an agent resolves it.
Outside business hours, or when the trigger is switched off in business.yml, nobody is
paused: the customer is told honestly and the bot offers to take a message instead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import ConversationPaused, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.common import SupportAction, business, channel_of, customer_store, mask_email
from bot.context import ContextPacket, build_context_packet
from bot.db import run_sync
from bot.handoff import states
from bot.handoff.routing import (
    Route,
    RouteFacts,
    RoutingSettingsError,
    customer_facts,
    load_routing_settings,
    route,
)
from bot.handoff.store import HandoffStore
from bot.upset import anger_of

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
    anger = anger_of(tracker.latest_message)
    if intent not in ("human_handoff", "affirm") and anger >= business().handoff.upset_threshold:
        return f"the customer is upset (anger {anger:.2f})"
    if intent == "affirm":  # accepted our offer of a person: keep what led to the offer
        previous = _previous_customer_intent(tracker.events) or ""
        return REASONS_BY_INTENT.get(previous, earlier or "the customer accepted the offer of a person")
    return REASONS_BY_INTENT.get(intent or "", earlier or "the customer asked for a person")


def handoff_intent(tracker: Tracker) -> str | None:
    """The intent that led to the handoff (for routing by topic): the latest one, or, when the
    customer accepted our offer of a person ("yes"), the one before it."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if intent == "affirm":
        return _previous_customer_intent(tracker.events) or intent
    return intent


def route_for(tracker: Tracker, packet: ContextPacket, *, channel: str, open_now: bool) -> Route | None:
    """The team business.yml ``routing:`` sends this handoff to (None without rules: the one channel).

    A routing section that cannot be read is logged with the key to fix and the handoff goes to
    the handoff channel: a customer who asked for a person is never left without one.
    """
    try:
        settings = load_routing_settings()
    except RoutingSettingsError:
        logger.exception(
            "handoff for %s: routing settings unusable; sent to the handoff channel", tracker.sender_id
        )
        return None
    if not settings.enabled:
        return None
    data = packet.to_dict()
    facts = RouteFacts(
        channel=channel,
        intent=handoff_intent(tracker),
        reason=packet.reason,
        in_hours=open_now,
        **customer_facts(
            data.get("customer"), data.get("orders") or (), (data.get("slots") or {}).get("language")
        ),
    )
    return route(settings, facts)


def _previous_customer_intent(events: list[dict[str, Any]]) -> str | None:
    users = [e for e in events if e.get("event") == "user"]
    if len(users) < 2:
        return None
    return intent_of(users[-2])


def _latest_timestamp(events: Iterable[Mapping[str, Any]]) -> float:
    """Newest event time in the tracker: later customer messages go to the agent's thread."""
    stamps = [float(e["timestamp"]) for e in events if isinstance(e.get("timestamp"), int | float)]
    return max(stamps, default=0.0)


async def request_handoff(
    dispatcher: CollectingDispatcher, tracker: Tracker, reason: str
) -> tuple[list[EventType], ContextPacket | None]:
    """Open a handoff with its context packet; pause the bot if a person can take over now."""
    settings = business().handoff
    channel = channel_of(tracker)
    store = customer_store()
    open_now = settings.business_hours.is_open(datetime.now(timezone.utc))
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
        handoffs = HandoffStore(store)
        routed = route_for(tracker, packet, channel=channel, open_now=open_now)
        await run_sync(
            handoffs.open_handoff,
            conversation_id=tracker.sender_id,
            channel=channel,
            customer_id=packet.customer.id if packet.customer else None,
            reason=reason,
            packet=packet.to_dict(),
            relay_after=_latest_timestamp(tracker.events),
            status=states.opening(open_now=open_now),
            route=routed,
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
        wait = await run_sync(
            handoffs.expected_wait_minutes,
            settings.expected_wait_minutes,
            team=routed.team.name if routed else None,
        )
    except SQLAlchemyError:
        logger.exception("handoff for %s: customer store unavailable", tracker.sender_id)
        dispatcher.utter_message(response="utter_handoff_store_down")
        return [SlotSet("handoff_reason", reason)], None
    logger.info(
        "handoff opened for %s on %s: %s%s", tracker.sender_id, channel, reason,
        f" (to {routed.team.name}: {routed.why})" if routed else "",
    )  # fmt: skip
    if not open_now:
        return [SlotSet("handoff_reason", reason), FollowupAction("action_handoff_unanswered")], packet
    dispatcher.utter_message(response="utter_handoff", wait_minutes=max(1, math.ceil(wait)))
    dispatcher.utter_message(json_message=handoff_state("waiting"))
    return [SlotSet("handoff_reason", reason), ConversationPaused()], packet


def handoff_state(state: str, **details: Any) -> dict[str, Any]:
    """Machine-readable handoff state for channels that show it (the web chat's banner).

    ``state``: "waiting" (a person was asked for), "agent" (a person has the chat; the
    relay sends this with the agent's name), "bot" (the assistant is back).
    """
    return {"handoff": {"state": state, **details}}


def _summary(packet: ContextPacket) -> str:
    said = [line.text for line in packet.transcript if line.role == "customer"][-3:]
    return "Handed to a person (" + packet.reason + "). Customer said: " + " / ".join(said)


class ActionHandoff(SupportAction):
    def name(self) -> str:
        return "action_handoff"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        triggers = business().handoff.triggers
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "human_handoff" and not triggers.customer_asks:
            return [FollowupAction("action_handoff_unanswered")]
        events, _ = await request_handoff(dispatcher, tracker, handoff_reason(tracker))
        return events


class ActionFallback(SupportAction):
    """First miss: ask to rephrase. Second miss in a row: offer a person, never guess."""

    def name(self) -> str:
        return "action_fallback"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if consecutive_fallbacks(tracker.events) >= 2 and business().handoff.triggers.not_understood_twice:
            return [
                SlotSet("handoff_reason", REASON_NOT_UNDERSTOOD),
                FollowupAction("utter_offer_human"),
            ]
        dispatcher.utter_message(response="utter_ask_rephrase")
        return []


class ActionHandoffResolved(SupportAction):
    """An agent pressed Resolve: the bot is back and says so (triggered by the relay)."""

    def name(self) -> str:
        return "action_handoff_resolved"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_back_with_bot", business_name=business().name)
        dispatcher.utter_message(json_message=handoff_state("bot"))
        return [SlotSet("handoff_reason", None)]


class ActionHandoffUnanswered(SupportAction):
    """No one can take over (after hours, or nobody claimed in time): say so, offer to take a message."""

    def name(self) -> str:
        return "action_handoff_unanswered"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        hours = business().handoff.business_hours
        if hours.is_open(datetime.now(timezone.utc)):
            dispatcher.utter_message(response="utter_no_agent_free")
        else:
            dispatcher.utter_message(response="utter_team_offline", hours=hours.describe())
        dispatcher.utter_message(response="utter_offer_message")
        dispatcher.utter_message(json_message=handoff_state("bot"))
        return []


class ValidateFollowupForm(FormValidationAction):
    def name(self) -> str:
        return "validate_followup_form"

    async def validate_followup_message(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if not text:
            dispatcher.utter_message(response="utter_ask_followup_message")
            return {"followup_message": None}
        return {"followup_message": text[:4000]}


class ActionSaveFollowup(SupportAction):
    """Pass the customer's message to the team (in the handoff's Slack thread)."""

    def name(self) -> str:
        return "action_save_followup"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        message = str(tracker.get_slot("followup_message") or "").strip()
        store = customer_store()
        handoff = await run_sync(HandoffStore(store).record_followup, tracker.sender_id, message)
        if handoff is None:  # no handoff to attach it to: open one so the team sees it
            await request_handoff(CollectingDispatcher(), tracker, "the customer left a message")
            await run_sync(HandoffStore(store).record_followup, tracker.sender_id, message)
        customer = await run_sync(store.find_by_identity, channel_of(tracker), tracker.sender_id)
        if customer is not None and customer.email:
            dispatcher.utter_message(response="utter_followup_saved_email", email=mask_email(customer.email))
        else:
            dispatcher.utter_message(response="utter_followup_saved")
        return [SlotSet("followup_message", None)]
