"""Routing end to end: real Rasa, action server and worker; Slack is the fake server (tests/fakes/slack).

Three web-chat customers ask for a person for different reasons. Each card lands in the channel
its rule names (a billing dispute in the billing channel with its user group mentioned once, a
VIP in the VIP channel, anyone else in the handoff channel), says which rule routed it and why,
and an agent can claim it from the team's channel. Heavy: run under ``flock /tmp/team/heavy.lock``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import update

from bot.customers import CustomerStore
from bot.customers.models import Customer
from bot.handoff.desks.slack import CLAIM
from bot.handoff.store import HandoffStore
from tests.fakes.slack import FakeSlack
from tests.support.bot import whole_bot, write_business_file
from tests.support.slack_desk import handoff_id
from tests.support.webchat import WebChatCustomer

HANDOFF_CHANNEL, BILLING, VIP = "C0HANDOFF", "C0BILLING", "C0VIPDESK"
BILLING_GROUP = "S0BILLING"
ROUTING = {
    "teams": {
        "billing": {"channel": BILLING, "notify_group": BILLING_GROUP, "first_reply_minutes": 10},
        "vip": {"channel": VIP},
        "general": {},  # the handoff channel
    },
    "rules": [
        {"name": "vip", "team": "vip", "when": {"vip": True}},
        {"name": "billing", "team": "billing", "when": {"topic": ["billing_dispute", "refund"]}},
        {"name": "default", "team": "general"},
    ],
}


@pytest.fixture(scope="module")
def rig(
    trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, FakeSlack, Path]]:
    data = tmp_path_factory.mktemp("routing")
    business = write_business_file(data / "business.yml")
    document = yaml.safe_load(business.read_text(encoding="utf-8"))
    document["routing"] = ROUTING
    business.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    with FakeSlack() as slack:
        for channel, name in ((HANDOFF_CHANNEL, "support"), (BILLING, "billing"), (VIP, "vip-desk")):
            slack.add_channel(channel, name)
        slack.add_user("UALEX", "Alex Morgan", "Alex")
        env = {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_HANDOFF_CHANNEL": HANDOFF_CHANNEL,
            "SLACK_API_URL": slack.api_url,
            "SUPPORTBOT_BUSINESS_FILE": str(business),
        }
        with whole_bot(trained_model, data, env) as processes:
            yield processes, slack, data


def card_in(slack: FakeSlack, channel: str, session: str) -> dict[str, Any]:
    return slack.wait_for(
        lambda: next((m for m in slack.messages(channel) if session in json.dumps(m.get("blocks"))), None),
        timeout=20,
    )


def test_handoffs_of_different_kinds_land_in_their_teams_channels_with_the_why(
    rig: tuple[Any, FakeSlack, Path],
) -> None:
    bot, slack, data = rig
    customers = CustomerStore(f"sqlite:///{data / 'customers.db'}")
    maria = customers.find_by_identity("rest", "maria")
    with customers.session() as session:  # Maria is a VIP (the store's preferences.vip)
        session.execute(update(Customer).where(Customer.id == maria.id).values(preferences={"vip": True}))

    disputer, vip, other = (WebChatCustomer(bot.rasa_url) for _ in range(3))
    customers.link_identity(maria.id, "socketio", vip.session_id)
    try:
        disputer.ask("I want to dispute a charge", "billing team")
        disputer.wait_for_handoff_state("waiting")
        vip.ask("I want to talk to a human", "person from our support team")
        vip.wait_for_handoff_state("waiting")
        other.ask("hello <!subteam^S0EVIL> <!here> @channel", "")  # any answer: it is on the card
        other.ask("I want to talk to a human", "person from our support team")
        other.wait_for_handoff_state("waiting")

        billing = card_in(slack, BILLING, disputer.session_id)
        shown = json.dumps(billing["blocks"], ensure_ascii=False)
        assert "Routed to *billing* — rule 'billing': intent billing_dispute" in shown
        assert shown.count(f"<!subteam^{BILLING_GROUP}>") == 1  # the team's group, once, on the new card

        vip_card = json.dumps(card_in(slack, VIP, vip.session_id)["blocks"], ensure_ascii=False)
        assert "Routed to *vip* — rule 'vip': VIP customer" in vip_card and "Maria Lopez" in vip_card

        general = card_in(slack, HANDOFF_CHANNEL, other.session_id)
        general_text = json.dumps({"t": general["text"], "b": general["blocks"]}, ensure_ascii=False)
        assert "Routed to *general* — rule 'default': default" in general_text
        assert "&lt;!subteam^S0EVIL&gt;" in general_text  # the customer's text is on the card ...
        assert "<!" not in general_text  # ... escaped: never a mention

        # Each card is only in its own channel.
        everywhere = [m for m in slack.messages() if disputer.session_id in json.dumps(m.get("blocks"))]
        assert [m["channel"] for m in everywhere] == [BILLING]

        # An agent claims the billing card from the billing channel: accepted, and the update
        # keeps the routing line without mentioning the group again.
        status, _ = slack.click_button(
            f"{bot.relay_url}/slack/events", CLAIM, handoff_id(billing), "UALEX", BILLING, billing["ts"]
        )
        assert status == 200
        slack.wait_for(lambda: "Claimed by Alex" in json.dumps(slack.message(billing["ts"])["blocks"]))
        updated = json.dumps(slack.message(billing["ts"])["blocks"], ensure_ascii=False)
        assert "Routed to *billing*" in updated and "subteam" not in updated
        assert "Alex" in disputer.wait_for("has joined")

        handoffs = HandoffStore(customers)
        recorded = handoffs.latest_for(disputer.session_id)
        assert (recorded.team, recorded.desk_channel, recorded.status) == ("billing", BILLING, "claimed")
        assert handoffs.latest_for(other.session_id).team == "general"
    finally:
        for customer in (disputer, vip, other):
            customer.close()
