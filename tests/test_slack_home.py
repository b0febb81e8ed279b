"""The App Home queue against the fake Slack: real Bolt app, real database, no Rasa.

The relay's Bolt app (bot/handoff/slack_app.py, with bot/handoff/desks/slack/home.py registered)
is served on 127.0.0.1 (HTTP mode) or connected to the fake's Socket Mode WebSocket; the fake
Slack sends it ``app_home_opened`` events and Home-tab clicks (signed POSTs or envelopes) and
records what ``views.publish`` sent per user. The publisher's rounds are driven by the test
(``refresh``), so "N changes → at most one publish per agent" is counted exactly.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.business import load_business_settings
from bot.customers import CustomerStore
from bot.handoff.desks.slack import CLAIM, SlackDesk
from bot.handoff.desks.slack.home import HomePublisher, home_publisher
from bot.handoff.desks.slack.home_view import HOME_CLAIM, HOME_OPEN_THREAD
from bot.handoff.models import SlackHomeView
from bot.handoff.rasa_api import RasaAPI
from bot.handoff.relay import Relay
from bot.handoff.routing import Route, load_routing_settings
from bot.handoff.settings import SlackSettings
from bot.handoff.slack_app import build_slack_app
from bot.handoff.store import HandoffRecord, HandoffStore
from bot.outbox import Outbox, OutboxWorker
from tests.fakes.slack import FakeSlack
from tests.support.bolt_app import BoltServer, connected
from tests.support.desk_rig import use_routing

HANDOFF_CHANNEL = "C0HANDOFF"
NOWHERE = "http://127.0.0.1:9"  # no Rasa: the customer side is never delivered here
ROUTING = {
    "teams": {
        "billing": {"channel": "C0BILLING", "notify_group": "S0BILLING", "first_reply_minutes": 10},
        "vip": {"channel": "C0VIP", "notify_group": "S0VIP"},
        "general": {},
    },
    "rules": [
        {"name": "vip", "team": "vip", "when": {"vip": True}},
        {"name": "billing", "team": "billing", "when": {"topic": ["billing_dispute"]}},
        {"name": "default", "team": "general"},
    ],
}


@pytest.fixture(autouse=True)
def use_store(store: CustomerStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CustomerStore:
    return use_routing(store, monkeypatch, tmp_path, ROUTING)


@dataclass
class Desk:
    slack: FakeSlack
    relay: Relay
    publisher: HomePublisher
    url: str

    def open(self, conversation: str, team: str, name: str = "Maria Lopez") -> HandoffRecord:
        packet = {"conversation_id": conversation, "channel": "socketio", "customer": {"name": name},
                  "reason": "asked for a person", "transcript": []}  # fmt: skip
        found = Route(load_routing_settings().teams[team], team, f"rule '{team}'")
        record, _ = self.relay.store.open_handoff(
            conversation_id=conversation, channel="socketio", customer_id=None, reason="asked for a person",
            packet=packet, relay_after=0.0, route=found,
        )  # fmt: skip
        return record

    def drain(self) -> None:
        """Post the cards and their updates (what goes to the desk; there is no Rasa)."""

        async def run() -> None:
            desk = Outbox(self.relay.store.db.session, prefixes=("desk:",))
            worker = OutboxWorker(desk, self.relay.deliver, interval=0.01, max_attempts=5, timeout=5)
            ends = time.monotonic() + 15
            while desk.pending_count():
                assert time.monotonic() < ends, "the outbox did not drain"
                await worker.run_once()
                await asyncio.sleep(0.02)

        asyncio.run(run())

    def refresh(self) -> int:
        return asyncio.run(self.publisher.refresh())

    def home(self, user: str) -> str:
        view = self.slack.home_view(user)
        assert view is not None, f"nothing published to {user}\n{self.slack.describe()}"
        return json.dumps(view["blocks"], ensure_ascii=False)

    def publishes(self, user: str | None = None) -> int:
        return len(
            [c for c in self.slack.api_calls("views.publish") if user in (None, c.params.get("user_id"))]
        )

    def status(self, handoff_id: int) -> tuple[str, str | None]:
        record = self.relay.store.get(handoff_id)
        assert record is not None
        return str(record.status), record.claimed_by


@pytest.fixture(params=["http", "socket"])
def desk(use_store: CustomerStore, request: pytest.FixtureRequest) -> Iterator[Desk]:
    """The relay's Bolt app with its Home tab, reached over signed HTTP or a Socket Mode connection."""
    with FakeSlack(socket_mode=request.param == "socket") as slack:
        for channel, name in ((HANDOFF_CHANNEL, "support"), ("C0BILLING", "billing"), ("C0VIP", "vip")):
            slack.add_channel(channel, name)
        slack.add_user("UALEX", "Alex Morgan", "Alex")  # billing agent
        slack.add_user("USAM", "Sam Lee", "Sam")  # vip agent
        slack.add_user("UKIM", "Kim Park", "Kim")  # an agent in no team's group: sees every team
        slack.add_user("ULEAD", "Lee Adams", "Lee")  # a lead, not in the agent group
        slack.add_user("UNOBODY", "Noa Body")  # a full member, not an agent
        slack.add_user("UGUEST", "Gus Guest", guest="single")
        slack.add_user("UPARTNER", "Pat Partner", team_id="T0PARTNER")
        slack.add_usergroup("S0AGENTS", "agents", ["UALEX", "USAM", "UKIM", "UGUEST", "UPARTNER"])
        slack.add_usergroup("S0BILLING", "billing", ["UALEX"])
        slack.add_usergroup("S0VIP", "vip", ["USAM"])
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        relay = Relay(HandoffStore(use_store), SlackDesk(client, HANDOFF_CHANNEL), RasaAPI(NOWHERE),
                      load_business_settings().handoff)  # fmt: skip
        settings = SlackSettings(
            bot_token=slack.bot_token, signing_secret=slack.signing_secret, channel=HANDOFF_CHANNEL,
            api_url=slack.api_url, agent_group="S0AGENTS", lead_users=frozenset({"ULEAD"}),
            team_channels=load_routing_settings().slack_channels(),
        )  # fmt: skip
        app = build_slack_app(relay, settings, client)
        publisher = home_publisher(app)
        assert publisher is not None
        if request.param == "socket":  # the fake then delivers to the connection, not to a URL
            with connected(app, slack.app_token):
                slack.wait_for(lambda: slack.socket.connections()[1] == 1)
                yield Desk(slack, relay, publisher, "socket-mode")
        else:
            with BoltServer(app) as server:
                yield Desk(slack, relay, publisher, f"{server.base_url}/slack/events")


def viewers(desk: Desk) -> set[str]:
    with desk.relay.store.db.session() as session:
        return set(session.scalars(select(SlackHomeView.user_id)))


# --------------------------------------------------------------------------- the queue


def test_each_agent_sees_their_teams_queue_and_it_follows_every_change(desk: Desk) -> None:
    maria = desk.open("maria", "billing", "Maria Lopez")
    james = desk.open("james", "vip", "James Chen")
    desk.drain()

    for user in ("UALEX", "USAM", "UKIM", "ULEAD"):
        assert desk.slack.open_home(desk.url, user)[0] == 200
    assert desk.publishes() == 4  # at once, one each
    alex, sam = desk.home("UALEX"), desk.home("USAM")
    assert "Maria Lopez" in alex and "James Chen" not in alex and "Your teams: billing, general" in alex
    assert "James Chen" in sam and "Maria Lopez" not in sam
    for everyone in (desk.home("UKIM"), desk.home("ULEAD")):
        assert "Maria Lopez" in everyone and "James Chen" in everyone and "All teams" in everyone
    assert ":large_green_circle: First reply due in" in alex and "No SLA target" in sam
    card = desk.relay.store.get(maria.id)
    assert card is not None and f"archives/C0BILLING/p{str(card.card_ts).replace('.', '')}" in alex
    assert viewers(desk) == {"UALEX", "USAM", "UKIM", "ULEAD"}

    assert desk.refresh() == 0  # nothing changed: nothing sent

    # Alex claims from Home: the handoff is theirs, their view shows it at once.
    assert desk.slack.click_home_button(desk.url, "UALEX", HOME_CLAIM, str(maria.id))[0] == 200
    assert desk.status(maria.id) == ("claimed", "UALEX")
    assert "Claimed by *Alex*" in desk.home("UALEX")
    desk.drain()
    assert "Alex" in json.dumps(desk.slack.message(str(card.card_ts)))  # the card follows, as from the card

    # Many changes between two rounds: one publish per agent whose view changed, no more.
    before = {user: desk.publishes(user) for user in ("UALEX", "USAM", "UKIM", "ULEAD")}
    for index in range(5):
        desk.open(f"billing-{index}", "billing", f"Customer {index}")
    desk.relay.store.resolve(james.id, "Sam")
    desk.drain()
    assert desk.refresh() == 4
    assert all(desk.publishes(user) == before[user] + 1 for user in before)
    assert "Customer 4" in desk.home("UALEX") and "James Chen" not in desk.home("ULEAD")
    assert "Customer 4" not in desk.home("USAM") and "No open handoffs" in desk.home("USAM")
    assert desk.refresh() == 0

    # Open thread is a link button: acknowledged, nothing else happens.
    assert desk.slack.click_home_button(desk.url, "UALEX", HOME_OPEN_THREAD, str(maria.id))[0] == 200


def test_a_lead_takes_over_from_home_and_an_agent_cannot(desk: Desk) -> None:
    maria = desk.open("maria", "billing")
    desk.drain()
    desk.slack.open_home(desk.url, "UKIM")
    desk.slack.click_home_button(desk.url, "UKIM", HOME_CLAIM, str(maria.id))
    assert desk.status(maria.id) == ("claimed", "UKIM")

    # Alex's stale view still has the Claim button: the click is refused and Alex is told in the view.
    desk.slack.open_home(desk.url, "UALEX")
    assert HOME_CLAIM not in desk.home("UALEX")
    desk.slack.click_home_button(desk.url, "UALEX", HOME_CLAIM, str(maria.id), forged=True)
    assert desk.status(maria.id) == ("claimed", "UKIM")
    assert "has this handoff" in desk.home("UALEX") and "Nothing was changed" in desk.home("UALEX")
    assert desk.slack.ephemerals() == []  # a Home tab has no channel to answer in

    desk.slack.open_home(desk.url, "ULEAD")
    assert "Take over" in desk.home("ULEAD")
    desk.slack.click_home_button(desk.url, "ULEAD", HOME_CLAIM, str(maria.id))
    assert desk.status(maria.id) == ("claimed", "ULEAD")


def test_a_rate_limited_publish_waits_for_retry_after_and_catches_up(desk: Desk) -> None:
    desk.open("maria", "billing")
    desk.slack.open_home(desk.url, "UALEX")
    desk.slack.open_home(desk.url, "ULEAD")
    now = [1000.0]
    desk.publisher.clock = lambda: now[0]
    desk.open("priya", "billing", "Priya Shah")
    desk.slack.fail("views.publish", 429, times=1, retry_after=30)
    calls = desk.publishes()
    assert desk.refresh() == 0
    assert desk.publishes() == calls + 1  # the round stopped at the 429: no retry storm
    now[0] += 10
    assert desk.refresh() == 0 and desk.publishes() == calls + 1  # still inside Retry-After
    now[0] += 25
    assert desk.refresh() == 2
    assert "Priya Shah" in desk.home("UALEX") and "Priya Shah" in desk.home("ULEAD")


def test_the_background_loop_publishes_changes_within_its_interval(desk: Desk) -> None:
    desk.slack.open_home(desk.url, "UALEX")
    assert "No open handoffs" in desk.home("UALEX")
    desk.publisher.interval = 0.1

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.create_task(desk.publisher.run(stop))
        await asyncio.sleep(0.3)  # idle rounds: nothing changed, nothing sent

        def burst() -> None:
            for index in range(10):
                desk.open(f"c{index}", "billing", f"Customer {index}")

        await asyncio.to_thread(burst)
        await asyncio.sleep(0.6)
        stop.set()
        await asyncio.wait_for(loop, 5)

    asyncio.run(run())
    assert "Customer 9" in desk.home("UALEX")
    # The opening, then the burst of ten: one publish (two if a round fell in the middle of it).
    assert 2 <= desk.publishes("UALEX") <= 3


# --------------------------------------------------------------------------- attacks


@pytest.mark.parametrize("outsider", ["UNOBODY", "UGUEST", "UPARTNER"])
def test_someone_who_is_not_an_agent_sees_no_customer_and_cannot_claim(desk: Desk, outsider: str) -> None:
    maria = desk.open("maria", "general", "Maria Lopez")
    desk.drain()
    assert desk.slack.open_home(desk.url, outsider)[0] == 200
    view = desk.home(outsider)
    assert "support agents only" in view
    for leaked in ("Maria", "asked for a person", HOME_CLAIM, "archives", "general"):
        assert leaked not in view
    assert outsider not in viewers(desk)  # not kept up to date either
    desk.slack.click_home_button(desk.url, outsider, HOME_CLAIM, str(maria.id), forged=True)
    assert desk.status(maria.id) == ("waiting", None)
    assert desk.refresh() == 0


def test_forged_home_clicks_are_ignored(desk: Desk) -> None:
    maria = desk.open("maria", "billing")
    james = desk.open("james", "vip")
    desk.drain()
    desk.slack.open_home(desk.url, "UALEX")
    for value in ("abc", "", "999999", f"{maria.id} OR 1=1"):
        assert desk.slack.click_home_button(desk.url, "UALEX", HOME_CLAIM, value, forged=True)[0] == 200
    # Another team's handoff (not in Alex's queue), a click from another workspace, and the card's
    # own Claim sent from a Home view: none claims anything.
    desk.slack.click_home_button(desk.url, "UALEX", HOME_CLAIM, str(james.id), forged=True)
    assert "no longer in your queue" in desk.home("UALEX")
    desk.slack.click_home_button(desk.url, "UALEX", HOME_CLAIM, str(maria.id), team_id="T0EVIL")
    desk.slack.click_home_button(desk.url, "UALEX", CLAIM, str(maria.id), forged=True)
    assert desk.status(maria.id) == ("waiting", None) and desk.status(james.id) == ("waiting", None)


def test_customer_text_in_the_view_is_escaped(desk: Desk) -> None:
    desk.open("evil", "billing", "<!channel> *URGENT* <@U1> <https://evil.example|refund here>")
    desk.slack.open_home(desk.url, "UALEX")
    view = desk.home("UALEX")
    for raw in ("<!channel>", "<@U1>", "<https://evil.example", "*URGENT*"):
        assert raw not in view, raw
    assert "&lt;!channel&gt;" in view and "&lt;@U1&gt;" in view


def test_a_queue_longer_than_the_block_limit_is_cut_with_a_count(desk: Desk) -> None:
    for index in range(30):
        desk.open(f"c{index}", "general", f"Customer {index}")
    desk.slack.open_home(desk.url, "UKIM")
    view = desk.slack.home_view("UKIM")
    assert view is not None and len(view["blocks"]) <= 100  # the fake refuses more, as Slack does
    assert "more open handoffs, not shown here" in desk.home("UKIM") and "30 open" in desk.home("UKIM")


def test_the_messages_tab_and_other_workspaces_publish_nothing(desk: Desk) -> None:
    desk.open("maria", "billing")
    desk.slack.open_home(desk.url, "UALEX", tab="messages")
    desk.slack.open_home(desk.url, "UALEX", team_id="T0EVIL")
    assert desk.publishes() == 0 and viewers(desk) == set()
