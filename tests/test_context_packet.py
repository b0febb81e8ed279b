"""The customer context packet an agent receives at handoff."""

from __future__ import annotations

import json
from datetime import date

from bot.context import build_context_packet
from bot.customers import CustomerStore
from tests.support.trackers import bot, user


def test_packet_has_profile_orders_history_transcript_and_slots(store: CustomerStore) -> None:
    events = [
        user("hi", "greet", 0.99),
        bot("Hi Maria"),
        user("where is HL-104233??", "order_status", 0.87, order_number="HL-104233"),
        bot("It shipped"),
        user("let me talk to a human", "human_handoff", 0.93),
    ]
    slots = {"order_number": "HL-104233", "requested_slot": None, "email": None, "handoff_reason": "x"}

    packet = build_context_packet(
        conversation_id="maria", channel="rest", events=events, slots=slots,
        reason="the customer asked for a person", store=store,
    )  # fmt: skip

    assert packet.customer.name == "Maria Lopez"
    assert [o.number for o in packet.orders] == ["HL-104233", "HL-100982"]
    assert len(packet.recent_conversations) == 2
    assert [line.role for line in packet.transcript] == ["customer", "bot", "customer", "bot", "customer"]
    assert packet.detected_intents == [("greet", 0.99), ("order_status", 0.87), ("human_handoff", 0.93)]
    assert packet.transcript[2].entities == ({"entity": "order_number", "value": "HL-104233"},)
    assert packet.slots == {"order_number": "HL-104233"}
    assert packet.reason == "the customer asked for a person"
    data = json.loads(json.dumps(packet.to_dict()))
    assert data["customer"]["email"] == "maria.lopez@example.com"
    assert data["detected_intents"][1] == {"intent": "order_status", "confidence": 0.87}


def test_packet_for_unknown_sender_or_without_store(store: CustomerStore) -> None:
    events = [user("agent pls", "human_handoff", 0.8)]
    packet = build_context_packet(
        conversation_id="stranger", channel="rest", events=events, slots={}, reason="asked", store=store
    )
    assert packet.customer is None and packet.orders == ()
    offline = build_context_packet(
        conversation_id="maria", channel="rest", events=events, slots={}, reason="asked", store=None
    )
    assert offline.customer is None and offline.transcript[0].text == "agent pls"


def test_another_customers_order_and_email_never_become_known_facts(store: CustomerStore) -> None:
    """Maria asks about James's order (refused), types James's email into a password reset, hands off."""
    events = [
        user("where is HL-118020", "order_status", 0.9, order_number="HL-118020"),
        bot("I can't find order HL-118020 on the account you're writing from."),
        user("reset my password", "reset_password", 0.9),
        user("james.okafor@example.com", "inform", 0.9, email="james.okafor@example.com"),
        bot("If james.okafor@example.com belongs to a Hearthlink account, a link is on its way"),
        user("a person please", "human_handoff", 0.9),
    ]
    slots = {"order_number": "118020", "email": "james.okafor@example.com", "device_model": "Hearthlink Hub"}
    packet = build_context_packet(
        conversation_id="maria", channel="rest", events=events, slots=slots, reason="asked", store=store
    )
    assert packet.slots == {"device_model": "Hearthlink Hub"}
    assert set(packet.unverified) == {"order_number", "email"}
    mine = build_context_packet(
        conversation_id="maria", channel="rest", events=[], reason="asked", store=store,
        slots={"order_number": "HL-104233", "email": "Maria.Lopez@example.com"},
    )  # fmt: skip
    assert mine.slots == {"order_number": "HL-104233", "email": "Maria.Lopez@example.com"}
    assert mine.unverified == ()
    stranger = build_context_packet(
        conversation_id="someone-new", channel="rest", events=[], reason="asked", store=store,
        slots={"order_number": "HL-104233", "pending_order": "HL-104233", "identity_code": "123456"},
    )  # fmt: skip
    assert stranger.slots == {} and stranger.unverified == ("order_number", "pending_order")


def test_packet_has_the_latest_return_with_items_quantities_and_reason(store: CustomerStore) -> None:
    """After the return opened: the stored one; mid-form (handed off before yes): the form's slots."""
    mid_form = {"order_number": "HL-100982", "return_items": ["Hearthlink Smart Plug"],
                "return_reason": "sparks when plugged in, card 4111 1111 1111 1111"}  # fmt: skip
    packet = build_context_packet(
        conversation_id="maria", channel="rest", events=[], slots=mid_form, reason="asked", store=store
    )
    draft = packet.latest_return
    assert (draft.order_number, draft.state, draft.reason) == ("HL-100982", "not_confirmed", "other")
    assert [(i.product, i.quantity) for i in draft.items] == [("Hearthlink Smart Plug", 2)]
    assert draft.reason_note.startswith("sparks when plugged in") and "4111 1111" not in draft.reason_note
    button = {"order_number": "HL-100982", "return_reason": "faulty"}  # items not chosen yet
    draft = build_context_packet(
        conversation_id="maria", channel="rest", events=[], slots=button, reason="asked", store=store
    ).latest_return
    assert (draft.items, draft.reason, draft.reason_note) == ((), "faulty", None)
    # another customer's order in the slots is no return of Maria's
    assert build_context_packet(
        conversation_id="maria", channel="rest", events=[], reason="asked", store=store,
        slots={**mid_form, "order_number": "HL-118020"},
    ).latest_return is None  # fmt: skip

    store.start_return("HL-100982", date.today(), ["Hearthlink Smart Plug"], "other", "they buzz at night")
    packet = build_context_packet(
        conversation_id="maria", channel="rest", events=[], slots={}, reason="asked", store=store
    )
    opened = packet.latest_return
    assert (opened.order_number, opened.state, opened.created_on) == ("HL-100982", "label_sent", date.today())
    assert [(i.product, i.quantity) for i in opened.items] == [("Hearthlink Smart Plug", 2)]
    assert (opened.reason, opened.reason_note) == ("other", "they buzz at night")
    data = json.loads(json.dumps(packet.to_dict()))["latest_return"]
    assert data["items"] == [{"product": "Hearthlink Smart Plug", "quantity": 2, "unit_price_cents": 1900}]
    # an older return of the whole order (no items stored) names every line; none at all: None
    priya = build_context_packet(
        conversation_id="priya", channel="rest", events=[], slots={}, reason="asked", store=store
    ).latest_return
    assert (priya.order_number, priya.state) == ("HL-131337", "received")
    assert [(i.product, i.quantity) for i in priya.items] == [("Hearthlink Smart Bulb", 4)]
    james = build_context_packet(
        conversation_id="james", channel="rest", events=[], slots={}, reason="asked", store=store
    )
    assert james.latest_return is None
