"""Routing from the action server to the team's channel, on real SQLite and PostgreSQL.

The action server decides the team when it opens the handoff (actions/handoff.py) and stores
it on the row; the relay posts the card in that team's channel of the fake Slack (over real
HTTP, through the relay's real slack_sdk client), mentions the team's group on the new card
only, and finds the card there again after a crash. The wait the customer is quoted is the
team's own. No Rasa: the actions run with a recorded tracker (tests/test_actions.py ``run``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import update

from actions.handoff import ActionHandoff
from bot.customers import CustomerStore
from bot.customers.models import Customer
from bot.handoff.desks.slack.access import SlackAccess
from bot.handoff.models import Handoff
from bot.handoff.relay import Relay
from bot.handoff.routing import RouteFacts, parse_routing_settings, route
from bot.handoff.settings import SlackSettings
from bot.handoff.slack_app import build_slack_app
from bot.handoff.store import POST_CARD, HandoffStore
from bot.outbox import OutboxItem, RetryLater, utcnow
from tests.fakes.slack import FakeSlack
from tests.support.bolt_app import serving
from tests.support.desk_rig import desk_relay, use_routing
from tests.support.desk_rig import drain_desk as drain
from tests.support.trackers import bot, user
from tests.test_actions import responses, run

HANDOFF_CHANNEL = "C0HANDOFF"
NOWHERE = "http://127.0.0.1:9"  # no Rasa: these tests never reach the customer side
ROUTING = {
    "teams": {
        "billing": {"channel": "C0BILLING", "notify_group": "S0BILLING", "first_reply_minutes": 10},
        "vip": {"channel": "C0VIP"},
        "returns": {"channel": "C0RETURNS"},
        "general": {},  # no channel: the handoff channel
    },
    "rules": [
        {"name": "vip", "team": "vip", "when": {"vip": True}},
        {"name": "billing", "team": "billing", "when": {"topic": ["billing_dispute", "refund"]}},
        {"name": "returns", "team": "returns", "when": {"open_return": True}},
        {"name": "default", "team": "general"},
    ],
}


@pytest.fixture(autouse=True)
def use_store(store: CustomerStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CustomerStore:
    return use_routing(store, monkeypatch, tmp_path, ROUTING)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        for channel, name in ((HANDOFF_CHANNEL, "support"), ("C0BILLING", "billing"), ("C0VIP", "vip")):
            fake.add_channel(channel, name)
        fake.add_channel("C0RETURNS", "returns")
        yield fake


def slack_relay(store: CustomerStore, slack: FakeSlack) -> Relay:
    return desk_relay(store, slack, HANDOFF_CHANNEL)


def make_vip(store: CustomerStore, sender: str) -> None:
    customer = store.find_by_identity("rest", sender)
    with store.session() as session:
        session.execute(
            update(Customer)
            .where(Customer.id == customer.id)
            .values(preferences={"vip": True, "language": "en"})
        )


def card_of(slack: FakeSlack, channel: str, conversation: str) -> dict[str, Any]:
    cards = [m for m in slack.messages(channel) if conversation in json.dumps(m.get("blocks"))]
    assert len(cards) == 1, (channel, slack.describe_state())
    return cards[0]


# --------------------------------------------------------------------------- the action server decides


def test_the_handoff_records_its_team_and_why_when_it_opens(use_store: CustomerStore) -> None:
    handoffs = HandoffStore(use_store)
    run(ActionHandoff(), "maria", [user("I was charged twice", "billing_dispute")])
    billing = handoffs.latest_for("maria")
    assert (billing.team, billing.routing_why) == ("billing", "rule 'billing': intent billing_dispute")
    assert (billing.desk_channel, billing.notify_group) == ("C0BILLING", "S0BILLING")

    # Priya has a return on its way back (demo data): the returns desk.
    run(ActionHandoff(), "priya", [user("a person please", "human_handoff")])
    returns = handoffs.latest_for("priya")
    assert (returns.team, returns.routing_why, returns.desk_channel) == (
        "returns", "rule 'returns': has an open return", "C0RETURNS",
    )  # fmt: skip

    # A VIP (preferences.vip in the customer store) goes to the VIP desk even about billing.
    make_vip(use_store, "james")
    run(ActionHandoff(), "james", [user("I was charged twice", "billing_dispute")])
    assert handoffs.latest_for("james").team == "vip"

    # "Yes" to our offer of a person: the topic is what came before it.
    events = [user("wrong amount on my bill", "billing_dispute"), bot("Shall I get a person?"),
              user("yes", "affirm")]  # fmt: skip
    run(ActionHandoff(), "someone-new", events)
    assert handoffs.latest_for("someone-new").team == "billing"

    # Nobody else: the default team, whose cards stay in the handoff channel.
    run(ActionHandoff(), "stranger", [user("a person please", "human_handoff")])
    general = handoffs.latest_for("stranger")
    assert (general.team, general.routing_why, general.desk_channel) == (
        "general",
        "rule 'default': default",
        None,
    )


def claimed_handoffs(store: CustomerStore, team: str, minutes: float, count: int = 3) -> None:
    """``count`` claimed handoffs of ``team``, each claimed ``minutes`` after it opened."""
    handoffs = HandoffStore(store)
    found = route(parse_routing_settings(ROUTING), RouteFacts("rest"))
    for index in range(count):
        record, _ = handoffs.open_handoff(
            conversation_id=f"old-{team}-{index}", channel="rest", customer_id=None, reason="asked",
            packet={"transcript": []}, relay_after=0.0, route=found,
        )  # fmt: skip
        now = utcnow()
        with store.session() as session:
            session.execute(
                update(Handoff).where(Handoff.id == record.id).values(
                    team=team, status="resolved", created_at=now - timedelta(minutes=minutes), claimed_at=now,
                )
            )  # fmt: skip


def test_the_customer_is_told_the_wait_of_their_team(use_store: CustomerStore) -> None:
    claimed_handoffs(use_store, "billing", minutes=25)
    claimed_handoffs(use_store, "general", minutes=2)
    handoffs = HandoffStore(use_store)
    assert round(handoffs.expected_wait_minutes(3, team="billing")) == 25
    assert round(handoffs.expected_wait_minutes(3, team="general")) == 2
    assert handoffs.expected_wait_minutes(3, team="vip") == 3  # no data yet: the business.yml default
    assert round(handoffs.expected_wait_minutes(3), 1) == 13.5  # without a team: the median of all, as before

    messages, _ = run(ActionHandoff(), "maria", [user("I was charged twice", "billing_dispute")])
    assert responses(messages)[-1] == "utter_handoff" and messages[-2]["wait_minutes"] == 25
    messages, _ = run(ActionHandoff(), "stranger", [user("a person please", "human_handoff")])
    assert messages[-2]["wait_minutes"] == 2


# --------------------------------------------------------------------------- the desk posts it there


def test_the_card_goes_to_the_teams_channel_with_the_why_and_one_mention(
    use_store: CustomerStore, slack: FakeSlack
) -> None:
    relay = slack_relay(use_store, slack)
    run(ActionHandoff(), "maria", [user("I was charged twice", "billing_dispute")])
    run(ActionHandoff(), "stranger", [user("a person please", "human_handoff")])
    asyncio.run(drain(relay))

    billing = card_of(slack, "C0BILLING", "maria")
    shown = json.dumps(billing["blocks"], ensure_ascii=False)
    assert "Routed to *billing* — rule 'billing': intent billing_dispute" in shown
    assert shown.count("<!subteam^S0BILLING>") == 1 and billing["text"].startswith("Handoff for billing: ")
    assert len(slack.replies(billing["ts"])) == 1  # the how-to, in the team channel's thread
    handoff = relay.store.latest_for("maria")
    assert (handoff.desk_channel, handoff.card_ts) == ("C0BILLING", billing["ts"])

    general = card_of(slack, HANDOFF_CHANNEL, "stranger")  # no team channel: the handoff channel
    assert "Routed to *general*" in json.dumps(general["blocks"]) and "subteam" not in json.dumps(general)
    assert not [m for m in slack.messages(HANDOFF_CHANNEL) if "maria" in json.dumps(m.get("blocks"))]

    # Claiming re-renders the card in place: still routed, and nobody is notified again.
    relay.store.claim(handoff.id, "UALEX", "Alex")
    asyncio.run(drain(relay))
    updated = slack.message(billing["ts"])
    assert "Claimed by Alex" in json.dumps(updated["blocks"]) and "Routed to *billing*" in json.dumps(
        updated["blocks"]
    )
    assert "subteam" not in json.dumps(updated["blocks"])


def test_a_card_posted_before_a_crash_is_found_in_the_teams_channel(
    use_store: CustomerStore, slack: FakeSlack
) -> None:
    relay = slack_relay(use_store, slack)
    run(ActionHandoff(), "maria", [user("I was charged twice", "billing_dispute")])

    async def scenario() -> None:
        [item] = [i for i in relay.store.outbox().take_due(lease=60) if i.kind == POST_CARD]
        slack.lose_answers("chat.postMessage")
        with pytest.raises(RetryLater):
            await relay.deliver(item)
        slack.flush_events()  # Slack told the app about its own post (message_metadata_posted)
        with relay.store.db.session() as session:  # the worker died holding its lease
            session.execute(update(OutboxItem).values(locked_until=None))
        await drain(relay)

    teams = parse_routing_settings(ROUTING).slack_channels()
    settings = SlackSettings(slack.bot_token, slack.signing_secret, HANDOFF_CHANNEL, api_url=slack.api_url,
                             team_channels=teams)  # fmt: skip
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    with serving(build_slack_app(relay, settings, client), slack) as url:
        slack.subscribe_app(url)
        asyncio.run(scenario())
    assert len(slack.messages("C0BILLING")) == 1  # found by its key there, not posted twice
    assert relay.store.latest_for("maria").card_ts == slack.messages("C0BILLING")[0]["ts"]


def test_requests_from_a_team_channel_are_accepted_like_the_handoff_channels(slack: FakeSlack) -> None:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    teams = parse_routing_settings(ROUTING).slack_channels()
    access = SlackAccess(client, SlackSettings("xoxb-t", "s", HANDOFF_CHANNEL, team_channels=teams))
    assert access.channel_allowed(HANDOFF_CHANNEL) and access.channel_allowed("C0BILLING")
    assert not access.channel_allowed("C0RANDOM") and not access.channel_allowed(None)
    assert not SlackAccess(client, SlackSettings("xoxb-t", "s", HANDOFF_CHANNEL)).channel_allowed("C0BILLING")
