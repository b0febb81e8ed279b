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
