"""Transfer, assign, take over and hand back, on real SQLite and PostgreSQL with the fake Slack.

The moves (bot/handoff/moves.py) change the row and queue their deliveries in one transaction;
the relay delivers them through its real slack_sdk client to the fake Slack over HTTP. No Rasa:
what goes to the customer is read from the outbox (the customer side is tested end to end in
tests/test_slack_team_desk.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.customers import CustomerStore
from bot.handoff.models import Handoff
from bot.handoff.relay import Relay, thread_summary
from bot.handoff.routing import RouteFacts, load_routing_settings, route
from bot.handoff.states import HandoffStatus
from bot.handoff.store import SAY_TO_CUSTOMER, HandoffRecord
from bot.outbox import OutboxItem, utcnow
from tests.fakes.slack import FakeSlack
from tests.support.desk_rig import desk_relay, use_routing
from tests.support.desk_rig import drain_desk as drain

HANDOFF_CHANNEL = "C0HANDOFF"
NOWHERE = "http://127.0.0.1:9"
ROUTING = {
    "teams": {
        "billing": {"channel": "C0BILLING", "notify_group": "S0BILLING"},
        "tech": {"channel": "C0TECH", "notify_group": "S0TECH"},
        "general": {},
    },
    "rules": [
        {"name": "billing", "team": "billing", "when": {"topic": ["billing_dispute"]}},
        {"name": "default", "team": "general"},
    ],
}


@pytest.fixture(autouse=True)
def use_store(store: CustomerStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CustomerStore:
    return use_routing(store, monkeypatch, tmp_path, ROUTING)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        for channel, name in ((HANDOFF_CHANNEL, "support"), ("C0BILLING", "billing"), ("C0TECH", "tech")):
            fake.add_channel(channel, name)
        fake.add_user("UALEX", "Alex Morgan", "Alex")
        fake.add_user("USAM", "Sam Lee", "Sam")
        fake.add_user("ULEAD", "Lee Adams", "Lee")
        yield fake


def relay_for(store: CustomerStore, slack: FakeSlack) -> Relay:
    return desk_relay(store, slack, HANDOFF_CHANNEL)


def billing_handoff(relay: Relay, conversation: str = "maria") -> HandoffRecord:
    found = route(load_routing_settings(), RouteFacts("rest", intent="billing_dispute"))
    record, _ = relay.store.open_handoff(
        conversation_id=conversation, channel="rest", customer_id=None, reason="charged twice",
        packet={"transcript": [], "reason": "charged twice", "channel": "rest"}, relay_after=0.0, route=found,
    )  # fmt: skip
    asyncio.run(drain(relay))
    return record


def said_to_customer(store: CustomerStore) -> list[dict[str, Any]]:
    with store.session() as session:
        items = session.scalars(
            select(OutboxItem).where(OutboxItem.kind == SAY_TO_CUSTOMER).order_by(OutboxItem.id)
        )
        return [dict(item.payload) for item in items]


def texts(slack: FakeSlack, ts: str) -> list[str]:
    return [str(m.get("text")) for m in slack.replies(ts)]


def test_a_transfer_reposts_the_card_in_the_new_teams_channel_and_links_both_ways(
    use_store: CustomerStore, slack: FakeSlack
) -> None:
    relay = relay_for(use_store, slack)
    handoff = billing_handoff(relay)
    [old] = slack.messages("C0BILLING")
    asyncio.run(relay.claim(handoff.id, "UALEX"))
    relay.store.relay_customer_message("maria", "still charged twice", 1.0, channel="rest")
    moved = asyncio.run(
        relay.transfer(handoff.id, "tech", "UALEX", "Card 4111 1111 1111 1111 <!channel> tried")
    )
    relay.store.relay_customer_message("maria", "hello?", 2.0, channel="rest")
    asyncio.run(drain(relay))

    assert moved is not None and (moved.status, moved.claimed_by) == (HandoffStatus.WAITING, None)
    [new] = slack.messages("C0TECH")
    record = relay.store.get(handoff.id)
    assert (record.team, record.desk_channel, record.card_ts) == ("tech", "C0TECH", new["ts"])
    assert record.transferred_from == "billing" and record.routing_why == "transferred by Alex from billing"
    assert record.earlier_cards == [["C0BILLING", old["ts"]]]  # erase deletes that thread too
    assert "4111" not in (record.transfer_note or "") and "tried" in (record.transfer_note or "")

    # The new card: the new team's group mentioned once, the story so far and a link back.
    shown = json.dumps(new["blocks"])
    assert shown.count("<!subteam^S0TECH>") == 1 and "Routed to *tech*" in shown
    new_thread = texts(slack, new["ts"])
    arrived = next(t for t in new_thread if "Transferred here from *billing* by Alex" in t)
    assert "earlier thread" in arrived and "&lt;!channel&gt;" in arrived and "<!channel>" not in arrived
    assert "4111 1111" not in arrived
    assert any("hello?" in t for t in new_thread)  # after the transfer: in the new thread

    # The old card: read-only, says where it went, and its thread has what came before.
    old_now = slack.message(old["ts"])
    assert "Transferred to tech" in json.dumps(old_now["blocks"])
    actions = [e["action_id"] for b in old_now["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["handoff_transcript"]
    old_thread = texts(slack, old["ts"])
    assert any("still charged twice" in t for t in old_thread)
    assert any("Transferred to *tech* by Alex" in t and "new card" in t for t in old_thread)
    assert not any("hello?" in t for t in old_thread)
    assert relay.store.by_card(old["ts"]) is None and relay.store.by_card(new["ts"]).id == handoff.id

    # Already there, or unknown: nothing happens.
    assert asyncio.run(relay.transfer(handoff.id, "tech", "UALEX", None)) is None
    assert asyncio.run(relay.transfer(handoff.id, "no-such-team", "UALEX", None)) is None


def test_assign_take_over_and_hand_back_tell_the_thread_and_the_customer(
    use_store: CustomerStore, slack: FakeSlack
) -> None:
    relay = relay_for(use_store, slack)
    handoff = billing_handoff(relay)
    [card] = slack.messages("C0BILLING")

    asyncio.run(relay.assign(handoff.id, "USAM", "ULEAD", "knows this customer"))
    asyncio.run(drain(relay))
    record = relay.store.get(handoff.id)
    assert (record.status, record.claimed_by, record.claimed_by_name) == (
        HandoffStatus.CLAIMED,
        "USAM",
        "Sam",
    )
    assert any("Assigned to Sam by Lee" in t and "knows this customer" in t for t in texts(slack, card["ts"]))
    assert said_to_customer(use_store)[-1]["text"] == "Sam from our support team has joined the conversation."

    asyncio.run(relay.claim(handoff.id, "ULEAD"))  # access.py lets only a lead do this
    asyncio.run(drain(relay))
    assert any("Taken over by Lee from Sam" in t for t in texts(slack, card["ts"]))

    back = asyncio.run(relay.hand_back(handoff.id))
    asyncio.run(drain(relay))
    assert back is not None and (back.status, back.claimed_by) == (HandoffStatus.WAITING, None)
    assert any("Lee handed this back to the team's queue" in t for t in texts(slack, card["ts"]))
    assert "Lee has had to step away" in said_to_customer(use_store)[-1]["text"]
    assert "Waiting for an agent" in json.dumps(slack.message(card["ts"])["blocks"])
    assert asyncio.run(relay.hand_back(handoff.id)) is None  # nobody has it now


def test_the_claim_timeout_counts_from_when_it_rejoined_the_queue(
    use_store: CustomerStore, slack: FakeSlack
) -> None:
    relay = relay_for(use_store, slack)
    handoff = billing_handoff(relay)
    with use_store.session() as session:  # opened an hour ago, claimed, handed back just now
        session.execute(
            update(Handoff).where(Handoff.id == handoff.id).values(created_at=utcnow() - timedelta(hours=1))
        )
    asyncio.run(relay.claim(handoff.id, "UALEX"))
    asyncio.run(relay.hand_back(handoff.id))
    assert relay.store.time_out_unclaimed(timedelta(minutes=5)) == []
    later = utcnow() + timedelta(minutes=6)
    assert [r.id for r in relay.store.time_out_unclaimed(timedelta(minutes=5), now=later)] == [handoff.id]


def test_agent_replies_are_timed_for_the_slas(use_store: CustomerStore, slack: FakeSlack) -> None:
    relay = relay_for(use_store, slack)
    handoff = billing_handoff(relay)
    args = {"agent_id": "UALEX", "agent_name": "Alex", "text": "On it"}
    assert relay.store.relay_agent_message(handoff.id, message_ts="1.1", **args)
    first = relay.store.get(handoff.id)
    assert first.first_agent_reply_at is not None and first.last_agent_reply_at == first.first_agent_reply_at
    assert not relay.store.relay_agent_message(handoff.id, message_ts="1.1", **args)  # a retry: not a reply
    assert relay.store.relay_agent_message(handoff.id, message_ts="1.2", **args)
    second = relay.store.get(handoff.id)
    assert second.first_agent_reply_at == first.first_agent_reply_at
    assert second.last_agent_reply_at >= first.last_agent_reply_at


def test_the_transfer_summary_is_the_latest_customer_and_agent_lines() -> None:
    events = [
        {"event": "user", "text": "before the handoff", "timestamp": 1.0},
        {"event": "user", "text": "my bill is wrong", "timestamp": 5.0},
        {"event": "bot", "text": "Let me look", "timestamp": 6.0, "metadata": {"agent_name": "Alex"}},
        {"event": "bot", "text": "the bot's own line", "timestamp": 7.0},
        {"event": "user", "text": "/EXTERNAL_handoff_resolved", "timestamp": 8.0,
         "parse_data": {"intent": {"name": "EXTERNAL_handoff_resolved"}}},
        {"event": "user", "text": "x" * 300, "timestamp": 9.0},
    ]  # fmt: skip
    summary = thread_summary(events, since=2.0)
    assert summary.startswith("Customer: my bill is wrong · Alex: Let me look · Customer: xxx")
    assert "before" not in summary and "bot's own" not in summary and "EXTERNAL" not in summary
    assert summary.endswith("…") and len(summary) < 300
