"""The customer context packet an agent receives at handoff."""

from __future__ import annotations

import json

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
