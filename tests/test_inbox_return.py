"""The local inbox shows the customer's latest return, as the Slack card does.

Why: with Slack not configured the inbox is the agent's whole briefing; without the return
the agent asks the customer again which items go back and why. The packets here are built
the way production builds them (``build_context_packet`` from the store, ``to_dict``, JSON),
and the reason note is the customer's own words: an attack in it must reach the page only
as text (the inbox's JSON strings go into text nodes, see inbox.js), redacted.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

from aiohttp import ClientSession

from bot.context import build_context_packet
from bot.customers import CustomerStore
from bot.handoff.desks.base import CardState
from bot.handoff.desks.inbox import render
from bot.return_reasons import REASON_CODES, REASON_FOR_AGENTS
from tests.support.inbox import add_agent, login_async
from tests.test_handoff_inbox import CARD_NUMBER, SCRIPT, XSS, deliver_desk_items, inbox_client, make_relay

WAITING = CardState(42, "waiting")


def maria_packet(store: CustomerStore, slots: dict[str, Any] | None = None) -> dict[str, Any]:
    """Maria's packet as a handoff stores it (``ContextPacket.to_dict`` through JSON)."""
    packet = build_context_packet(
        conversation_id="maria", channel="rest", events=[], slots=slots or {}, reason="asked", store=store
    )
    return json.loads(json.dumps(packet.to_dict(), default=str))


def return_fact(packet: dict[str, Any]) -> tuple[str, str] | None:
    """The (label, value) of the inbox's return fact, or None when there is none."""
    found = [
        (f["label"], f["value"]) for f in render.facts(packet, WAITING) if "return" in f["label"].lower()
    ]
    assert len(found) <= 1, found
    return found[0] if found else None


def test_the_inbox_shows_a_stored_return_with_items_quantities_and_reason(store: CustomerStore) -> None:
    store.start_return("HL-100982", date(2026, 10, 28), ["Hearthlink Hub", "Hearthlink Smart Plug"], "faulty")
    packet = maria_packet(store)
    assert return_fact(packet) == (
        "Latest return",
        "HL-100982 · Hearthlink Hub, 2 × Hearthlink Smart Plug · Label sent (opened 28 Oct 2026)"
        " · reason: doesn't work / damaged",
    )
    labels = [f["label"] for f in render.facts(packet, WAITING)]
    assert labels.index("Latest return") == labels.index("Orders") - 1  # where Slack has it: above orders

    # The customer's own words, not the code, once they gave them (as on the card).
    store.start_return(
        "HL-100982", date(2026, 10, 29), ["Hearthlink Smart Plug"], "other", "they  buzz\nat night"
    )
    assert return_fact(maria_packet(store)) == (
        "Latest return",
        "HL-100982 · 2 × Hearthlink Smart Plug · Label sent (opened 29 Oct 2026)"
        " · reason: “they buzz at night”",
    )


def test_the_inbox_shows_a_return_the_form_has_not_confirmed(store: CustomerStore) -> None:
    """Handed off mid-form: the items and reason typed so far, clearly not a return yet."""
    typed = {"order_number": "HL-100982", "return_items": ["Hearthlink Smart Plug"],
             "return_reason": f"sparks when plugged in, card {CARD_NUMBER}"}  # fmt: skip
    label, value = return_fact(maria_packet(store, typed)) or ("", "")
    assert label == "Return being set up"
    assert value == (
        "HL-100982 · 2 × Hearthlink Smart Plug · not confirmed yet, nothing returned"
        " · reason: “sparks when plugged in, card [card •••• 1111]”"
    )
    button = {"order_number": "HL-100982", "return_reason": "not_needed"}  # a reason button, no items yet
    assert return_fact(maria_packet(store, button)) == (
        "Return being set up",
        "HL-100982 · items not chosen yet · not confirmed yet, nothing returned · reason: no longer needed",
    )


def test_no_return_means_no_return_fact(store: CustomerStore) -> None:
    assert maria_packet(store)["latest_return"] is None
    assert return_fact(maria_packet(store)) is None
    assert return_fact({"channel": "rest", "reason": "asked"}) is None  # a new customer
    assert return_fact({"latest_return": {"state": "label_sent"}}) is None  # no order: nothing to show


def test_the_inbox_names_every_reason_code_as_the_slack_card_does() -> None:
    """Two desks, one wording (bot/return_reasons.py); a code added later still reads as words."""
    for code in (*REASON_CODES, "arrived_late"):
        ret = {"order_number": "HL-100982", "state": "label_sent", "items": [], "reason": code}
        _, value = return_fact({"latest_return": ret}) or ("", "")
        assert value.endswith("reason: " + REASON_FOR_AGENTS.get(code, "Arrived late")), value


def test_a_return_reason_cannot_run_script_in_the_inbox(store: CustomerStore) -> None:
    """The attack: markup as the reason. It reaches the page as a JSON string (text), redacted, not HTML."""
    attack = f"{SCRIPT} {XSS}"
    store.start_return("HL-100982", date(2026, 10, 28), ["Hearthlink Smart Plug"], "other", attack)
    packet = maria_packet(store)
    packet["latest_return"]["reason_note"] += f" card {CARD_NUMBER}"  # as if stored before redaction
    packet["latest_return"]["items"][0]["product"] = f"{XSS} Plug"  # even our own data is only text
    relay, handoffs = make_relay(store)
    add_agent(store)
    handoffs.open_handoff(
        conversation_id="maria", channel="rest", customer_id=1, reason="asked", packet=packet,
        relay_after=1_700_000_001.0,
    )  # fmt: skip

    async def scenario() -> None:
        await deliver_desk_items(relay, handoffs)
        async with inbox_client(relay, handoffs) as (session, base):
            await check(session, base)

    async def check(session: ClientSession, base: str) -> None:
        await login_async(session, base)
        async with session.get(f"{base}/inbox/api/handoffs") as response:
            assert response.content_type == "application/json"
            body = await response.text()
            (handoff,) = (await response.json())["handoffs"]
        (fact,) = [f for f in handoff["facts"] if f["label"] == "Latest return"]
        # The literal text the customer typed (the agent sees the attempt), secrets redacted, not decoded.
        assert fact["value"] == (
            f"HL-100982 · 2 × {XSS} Plug · Label sent (opened 28 Oct 2026)"
            f" · reason: “{attack} card [card •••• 1111]”"
        )
        assert CARD_NUMBER not in json.dumps(handoff["facts"]) and "&lt;" not in body
        async with session.get(f"{base}/inbox/inbox.js") as response:
            script = await response.text()
        # Facts become text nodes (el() appends strings as createTextNode); no HTML sink anywhere.
        assert 'el("dd", {}, fact.value)' in script and "createTextNode" in script
        assert not any(sink in script for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML"))

    asyncio.run(scenario())
