"""The card's "Transfer / assign…" and "Hand back to queue" buttons through the real Bolt app.

The app (bot/handoff/slack_app.py) runs in this process, over signed HTTP and over Socket Mode
(tests/support/bolt_app.py); the fake Slack opens the modal and submits it as Slack would. No
Rasa: what the customer is told is read from the outbox. The attacks: people who are not
agents, an agent who does not own the handoff, an assignee who is not an agent, and a
submission for a handoff the person may not move, all refused with nothing changed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.business import load_business_settings
from bot.customers import CustomerStore
from bot.handoff.desks.slack import CLAIM, HAND_BACK, TRANSFER, SlackDesk
from bot.handoff.desks.slack.transfer import AGENT_BLOCK, MODAL, NOTE_BLOCK, TEAM_BLOCK
from bot.handoff.rasa_api import RasaAPI
from bot.handoff.relay import Relay
from bot.handoff.routing import RouteFacts, load_routing_settings, route
from bot.handoff.settings import SlackSettings
from bot.handoff.slack_app import build_slack_app
from bot.handoff.states import HandoffStatus
from bot.handoff.store import HandoffRecord, HandoffStore
from tests.fakes.slack import FakeSlack
from tests.support.bolt_app import serving
from tests.support.desk_rig import drain_desk, use_routing
from tests.support.slack_desk import handoff_id

HANDOFF_CHANNEL, BILLING, TECH = "C0HANDOFF", "C0BILLING", "C0TECH"
NOWHERE = "http://127.0.0.1:9"
ROUTING = {
    "teams": {"billing": {"channel": BILLING}, "tech": {"channel": TECH, "notify_group": "S0TECH"},
              "general": {}},
    "rules": [{"name": "billing", "team": "billing", "when": {"topic": ["billing_dispute"]}},
              {"name": "default", "team": "general"}],
}  # fmt: skip


@pytest.fixture(autouse=True)
def use_store(store: CustomerStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CustomerStore:
    return use_routing(store, monkeypatch, tmp_path, ROUTING)


@dataclass
class Desk:
    slack: FakeSlack
    relay: Relay
    url: str

    def open(self) -> tuple[HandoffRecord, dict[str, Any]]:
        found = route(load_routing_settings(), RouteFacts("rest", intent="billing_dispute"))
        record, _ = self.relay.store.open_handoff(
            conversation_id="maria", channel="rest", customer_id=None, reason="charged twice",
            packet={"transcript": [], "reason": "charged twice", "channel": "rest"}, relay_after=0.0,
            route=found,
        )  # fmt: skip
        self.drain()
        [card] = self.slack.messages(BILLING)
        return record, card

    def drain(self) -> None:
        asyncio.run(drain_desk(self.relay))

    def click(self, action: str, card: dict[str, Any], user: str) -> None:
        status, _ = self.slack.click_button(
            self.url, action, handoff_id(card), user, card["channel"], card["ts"]
        )
        assert status == 200

    def modal(self, user: str) -> dict[str, Any]:
        """The transfer modal ``user`` was shown last (it must have been opened)."""
        opened = [v for v in self.slack.views() if v["view"].get("callback_id") == MODAL]
        assert opened, f"no transfer modal was opened\n{self.slack.describe()}"
        return opened[-1]

    def status(self, handoff_id: int) -> tuple[str, str | None, str | None]:
        record = self.relay.store.get(handoff_id)
        assert record is not None
        return str(record.status), record.claimed_by, record.team


@pytest.fixture(params=["http", "socket"])
def desk(use_store: CustomerStore, request: pytest.FixtureRequest) -> Iterator[Desk]:
    with FakeSlack(socket_mode=request.param == "socket") as slack:
        for channel, name in ((HANDOFF_CHANNEL, "support"), (BILLING, "billing"), (TECH, "tech")):
            slack.add_channel(channel, name)
        slack.add_user("UALEX", "Alex Morgan", "Alex")
        slack.add_user("USAM", "Sam Lee", "Sam")
        slack.add_user("ULEAD", "Lee Adams", "Lee")
        slack.add_user("UNOBODY", "Noa Body")
        slack.add_user("UGUEST", "Gus Guest", guest="single")
        slack.add_usergroup("S0AGENTS", "agents", ["UALEX", "USAM", "UGUEST"])
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        relay = Relay(HandoffStore(use_store), SlackDesk(client, HANDOFF_CHANNEL), RasaAPI(NOWHERE),
                      load_business_settings().handoff)  # fmt: skip
        settings = SlackSettings(
            bot_token=slack.bot_token, signing_secret=slack.signing_secret, channel=HANDOFF_CHANNEL,
            api_url=slack.api_url, agent_group="S0AGENTS", lead_users=frozenset({"ULEAD"}),
            team_channels=load_routing_settings().slack_channels(),
        )  # fmt: skip
        with serving(build_slack_app(relay, settings, client), slack) as url:
            yield Desk(slack, relay, url)


def test_transfer_to_a_team_and_assign_to_an_agent_from_the_modal(desk: Desk) -> None:
    handoff, card = desk.open()
    desk.click(CLAIM, card, "UALEX")
    desk.click(TRANSFER, card, "UALEX")
    modal = desk.modal("UALEX")
    teams = [
        o["value"]
        for b in modal["view"]["blocks"]
        if b["block_id"] == TEAM_BLOCK
        for o in b["element"]["options"]
    ]
    assert teams == ["tech", "general"]  # not the team it is with
    assert modal["view"]["private_metadata"] == str(handoff.id)

    status, _ = desk.slack.submit_view(
        desk.url, modal["id"], "UALEX", {TEAM_BLOCK: "tech", NOTE_BLOCK: "<!here> tried a reset"}
    )
    assert status == 200
    desk.drain()
    assert desk.status(handoff.id) == ("waiting", None, "tech")
    [tech] = desk.slack.messages(TECH)
    arrived = next(r["text"] for r in desk.slack.replies(tech["ts"]) if "Transferred here" in r["text"])
    assert "&lt;!here&gt; tried a reset" in arrived and "<!here>" not in arrived

    # Sam is assigned by the lead from the new card; the customer is told who joined.
    desk.click(TRANSFER, tech, "ULEAD")
    status, _ = desk.slack.submit_view(desk.url, desk.modal("ULEAD")["id"], "ULEAD", {AGENT_BLOCK: "USAM"})
    assert status == 200
    desk.drain()
    assert desk.status(handoff.id) == ("claimed", "USAM", "tech")
    assert any("Assigned to Sam by Lee" in r["text"] for r in desk.slack.replies(tech["ts"]))

    # Sam goes off shift: back to the queue.
    desk.click(HAND_BACK, tech, "USAM")
    desk.drain()
    assert desk.status(handoff.id) == ("waiting", None, "tech")
    assert "Waiting for an agent" in json.dumps(desk.slack.message(tech["ts"])["blocks"])


def test_only_the_owner_or_a_lead_moves_a_claimed_handoff(desk: Desk) -> None:
    handoff, card = desk.open()
    desk.click(CLAIM, card, "UALEX")
    desk.drain()
    views = len(desk.slack.views())

    for outsider in ("UNOBODY", "UGUEST"):  # not an agent, a guest: no modal, told why
        desk.click(TRANSFER, card, outsider)
        desk.click(HAND_BACK, card, outsider)
    desk.click(TRANSFER, card, "USAM")  # an agent, but Alex has it
    desk.click(HAND_BACK, card, "USAM")
    assert len(desk.slack.views()) == views
    assert desk.status(handoff.id) == (HandoffStatus.CLAIMED.value, "UALEX", "billing")
    told = [e["text"] for e in desk.slack.ephemerals("USAM")]
    assert any("only they or a lead can transfer" in t for t in told)
    assert any("hand it back to the queue" in t for t in told)
    assert desk.slack.ephemerals("UNOBODY") and desk.slack.ephemerals("UGUEST")

    # Alex opens the modal; Sam submits a copy of it (a replayed view): refused at submit too.
    desk.click(TRANSFER, card, "UALEX")
    modal = desk.modal("UALEX")
    status, _ = desk.slack.submit_view(desk.url, modal["id"], "USAM", {TEAM_BLOCK: "tech"})
    assert status == 200
    desk.drain()
    assert desk.status(handoff.id) == ("claimed", "UALEX", "billing")

    # The lead may take over from the card.
    desk.click(CLAIM, card, "ULEAD")
    desk.drain()
    assert desk.status(handoff.id)[1] == "ULEAD"
    assert any("Taken over by Lee from Alex" in r["text"] for r in desk.slack.replies(card["ts"]))


def test_a_handoff_cannot_be_assigned_to_someone_who_is_not_an_agent(desk: Desk) -> None:
    handoff, card = desk.open()
    for person in ("UNOBODY", "UGUEST"):
        desk.click(TRANSFER, card, "UALEX")
        status, body = desk.slack.submit_view(
            desk.url, desk.modal("UALEX")["id"], "UALEX", {AGENT_BLOCK: person}
        )
        assert status == 200 and "not one of the support agents" in body, body
    status, body = desk.slack.submit_view(
        desk.url, desk.modal("UALEX")["id"], "UALEX", {NOTE_BLOCK: "just a note"}
    )
    assert "Choose a team or an agent" in body
    desk.drain()
    assert desk.status(handoff.id) == ("waiting", None, "billing")
    assert len(desk.slack.messages(TECH)) == 0
