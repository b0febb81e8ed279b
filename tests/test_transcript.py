"""Transcripts read like the conversation the customer had (bot.context.transcript_from_events).

Every desk shows these lines, so what is fixed here is fixed on Slack and in the local inbox.
"""

from __future__ import annotations

from bot.context import build_context_packet, transcript_from_events
from bot.handoff.desks.inbox import render
from bot.handoff.desks.slack import transcript_modal
from tests.support.trackers import bot, user

ORDER_PAYLOAD = '/inform{"order_number": "HL-104233"}'


def offer(text: str, *buttons: tuple[str, str]) -> dict:
    """A bot message with buttons, the way Rasa records it (``data.buttons``)."""
    return {
        **bot(text),
        "data": {"buttons": [{"title": title, "payload": payload} for title, payload in buttons]},
    }


def external(intent: str, text: str | None = None) -> dict:
    """What Rasa records for the relay's trigger_intent call."""
    return user(text or f"EXTERNAL: {intent}", intent, 1.0)


def test_a_button_click_shows_the_button_title_not_its_payload() -> None:
    events = [
        user("where is my order", "order_status", 0.91),
        offer("Which order?", ("HL-104233 · Cam Outdoor", ORDER_PAYLOAD), ("Another order", "/deny")),
        user(ORDER_PAYLOAD, "inform", 1.0, order_number="HL-104233"),
        bot("It shipped with UPS."),
        {**user("/deny", "deny", 1.0), "text": " /deny "},  # an older button, clicked later
    ]
    lines = transcript_from_events(events)
    assert [line.text for line in lines] == [
        "where is my order", "Which order?", "HL-104233 · Cam Outdoor", "It shipped with UPS.",
        "Another order",
    ]  # fmt: skip
    assert lines[2].intent == "inform"  # the agent still sees what the bot understood
    assert lines[2].entities == ({"entity": "order_number", "value": "HL-104233"},)


def test_quick_replies_map_too_and_typed_slash_commands_stay_as_typed() -> None:
    events = [
        {**bot("Anything else?"), "data": {"quick_replies": [{"title": "No thanks", "payload": "/deny"}]}},
        user("/deny", "deny", 1.0),
        user("/restart", "restart", 1.0),
    ]
    assert [line.text for line in transcript_from_events(events)] == [
        "Anything else?",
        "No thanks",
        "/restart",
    ]


def test_the_systems_own_triggers_are_not_customer_lines() -> None:
    events = [
        user("can I talk to a person", "human_handoff", 0.93),
        bot("I've asked the team."),
        external("EXTERNAL_handoff_unanswered"),
        bot("Nobody is free right now. Can I take a message?"),
        user("/EXTERNAL_handoff_resolved", "whatever", 1.0),
        user("EXTERNAL: something", "greet", 1.0),
        user("yes please call me back", "affirm", 0.9),
    ]
    lines = transcript_from_events(events)
    assert [(line.role, line.text) for line in lines] == [
        ("customer", "can I talk to a person"),
        ("bot", "I've asked the team."),
        ("bot", "Nobody is free right now. Can I take a message?"),
        ("customer", "yes please call me back"),
    ]
    packet = build_context_packet(
        conversation_id="c1", channel="rest", events=events, slots={}, reason="asked", store=None
    )
    assert [intent for intent, _ in packet.detected_intents] == ["human_handoff", "affirm"]


def test_both_desks_show_the_readable_transcript() -> None:
    events = [
        offer("Which order?", ("HL-104233 · Cam Outdoor", ORDER_PAYLOAD)),
        user(ORDER_PAYLOAD, "inform", 1.0),
        external("EXTERNAL_handoff_unanswered"),
    ]
    packet = build_context_packet(
        conversation_id="c1", channel="rest", events=events, slots={}, reason="asked", store=None
    ).to_dict()
    modal = str(transcript_modal(packet))
    assert "HL-104233 · Cam Outdoor" in modal and "/inform" not in modal and "EXTERNAL" not in modal
    inbox = render.transcript(packet)
    assert [(line["who"], line["text"]) for line in inbox] == [
        ("Bot", "Which order?"), ("Customer", "HL-104233 · Cam Outdoor"),
    ]  # fmt: skip
