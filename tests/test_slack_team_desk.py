"""A support team works one handoff from routing to resolution, in HTTP and in Socket Mode.

The whole bot runs (real Rasa, action server and worker); Slack is the fake workspace over real
HTTP or its Socket Mode WebSocket, with two teams, their user groups, a lead and the App Home.
One web-chat customer (Maria, a demo customer with orders) disputes a charge; the story:

1. the card lands in the billing team's channel (rule 'billing'), the group mentioned once;
2. App Home: Alex (billing) sees it waiting, Sam (tech) does not; Alex claims it from Home;
3. Alex transfers it to tech with a note: a new card in the tech channel (its group mentioned,
   the note and the story so far, a link back), the old card read-only; Sam's Home shows it;
4. a lead assigns it to Sam by name; Maria is told Sam has joined;
5. the tech team's first-reply target runs out: one reminder in the thread, the group once;
6. Sam answers with a saved reply (message shortcut → private preview → Send): Maria gets the
   filled-in text; the thread shows what was sent;
7. Sam resolves it: the bot is back; every Home queue is empty again.

The module runs twice (``params``): the same story over HTTP Events and over Socket Mode.
Heavy: run under ``flock /tmp/team/heavy.lock``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.customers import CustomerStore
from bot.customers.demo import load_demo_data
from bot.handoff.desks.slack import CLAIM, RESOLVE, TRANSFER
from bot.handoff.desks.slack.home_view import HOME_CLAIM
from bot.handoff.desks.slack.saved_reply_views import SEND, SHORTCUT
from bot.handoff.desks.slack.transfer import AGENT_BLOCK, MODAL, NOTE_BLOCK, TEAM_BLOCK
from bot.handoff.store import HandoffStore
from bot.migrations import upgrade
from bot.processes import BotProcesses
from tests.fakes.slack import FakeSlack
from tests.support.bot import whole_bot, write_business_file
from tests.support.slack_desk import handoff_id
from tests.support.webchat import WebChatCustomer

HANDOFF_CHANNEL, BILLING, TECH = "C0HANDOFF", "C0BILLING", "C0TECH"
AGENTS, BILLING_GROUP, TECH_GROUP = "S0AGENTS", "S0BILLING", "S0TECH"
ROUTING = {
    "teams": {
        "billing": {"channel": BILLING, "notify_group": BILLING_GROUP},
        # A first reply within 6 seconds, reminded 4 s before: the reminder comes while Sam reads.
        "tech": {"channel": TECH, "notify_group": TECH_GROUP, "first_reply_minutes": 0.1,
                 "warn_before_minutes": 0.07},
        "general": {},
    },
    "rules": [
        {"name": "billing", "team": "billing", "when": {"topic": ["billing_dispute"]}},
        {"name": "default", "team": "general"},
    ],
}  # fmt: skip


@dataclass
class Team:
    bot: BotProcesses
    slack: FakeSlack
    customers: CustomerStore
    socket: bool

    @property
    def url(self) -> str:
        """Where the fake sends events and clicks (ignored in Socket Mode: they go down the socket)."""
        return "" if self.socket else f"{self.bot.relay_url}/slack/events"

    def card_in(self, channel: str, session: str) -> dict[str, Any]:
        return self.slack.wait_for(
            lambda: next(
                (m for m in self.slack.messages(channel) if session in json.dumps(m.get("blocks"))), None
            ),
            timeout=30,
        )

    def thread_has(self, ts: str, fragment: str, timeout: float = 20) -> str:
        return self.slack.wait_for(
            lambda: next((r["text"] for r in self.slack.replies(ts) if fragment in r["text"]), None), timeout
        )

    def home_shows(
        self, user: str, *fragments: str, absent: tuple[str, ...] = (), timeout: float = 30
    ) -> str:
        """Wait until ``user``'s Home tab shows every fragment and none of ``absent``."""

        def shown() -> str | None:
            view = self.slack.home_view(user)
            text = json.dumps(view, ensure_ascii=False) if view else ""
            ok = all(f in text for f in fragments) and not any(a in text for a in absent)
            return text if ok else None

        return self.slack.wait_for(shown, timeout=timeout)

    def ok(self, answer: tuple[Any, ...]) -> None:
        assert answer[0] == 200, answer


def populate(slack: FakeSlack) -> None:
    for channel, name in ((HANDOFF_CHANNEL, "support"), (BILLING, "billing"), (TECH, "tech")):
        slack.add_channel(channel, name)
    slack.add_user("UALEX", "Alex Morgan", "Alex")
    slack.add_user("USAM", "Sam Lee", "Sam")
    slack.add_user("ULEAD", "Lee Adams", "Lee")
    slack.add_usergroup(AGENTS, "support-agents", ["UALEX", "USAM"])
    slack.add_usergroup(BILLING_GROUP, "billing-agents", ["UALEX"])
    slack.add_usergroup(TECH_GROUP, "tech-agents", ["USAM"])


@pytest.fixture(scope="module", params=["http", "socket"])
def team(
    request: pytest.FixtureRequest, trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Team]:
    socket = request.param == "socket"
    data = tmp_path_factory.mktemp(f"team-desk-{request.param}")
    customers = CustomerStore(f"sqlite:///{data / 'customers.db'}")
    upgrade(customers.url)
    load_demo_data(customers)
    business = write_business_file(data / "business.yml", still_looking_after_minutes=0)
    document = yaml.safe_load(business.read_text(encoding="utf-8"))
    document["routing"] = ROUTING
    business.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    with FakeSlack(socket_mode=socket) as slack:
        populate(slack)
        env = {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_HANDOFF_CHANNEL": HANDOFF_CHANNEL,
            "SLACK_API_URL": slack.api_url,
            "SLACK_AGENT_GROUP": AGENTS,
            "SLACK_LEAD_USERS": "ULEAD",
            "SUPPORTBOT_BUSINESS_FILE": str(business),
            "SUPPORTBOT_DATABASE_URL": customers.url,
        }
        if socket:
            env |= {"SLACK_MODE": "socket", "SLACK_APP_TOKEN": slack.app_token}
        with whole_bot(trained_model, data, env) as processes:
            if socket:
                slack.wait_for(lambda: slack.socket.connections()[1] == 1, timeout=30)
            else:
                slack.subscribe_app(f"{processes.relay_url}/slack/events")
            yield Team(processes, slack, customers, socket)


def latest_view(slack: FakeSlack, callback_id: str) -> dict[str, Any]:
    return slack.wait_for(
        lambda: next(
            (v for v in reversed(slack.views()) if v["view"].get("callback_id") == callback_id), None
        )
    )


def test_a_team_works_a_handoff_from_routing_to_resolution(team: Team) -> None:
    slack, url = team.slack, team.url
    handoffs = HandoffStore(team.customers)
    for agent in ("UALEX", "USAM"):
        team.ok(slack.open_home(url, agent))
        team.home_shows(agent, "No open handoffs")

    maria = WebChatCustomer(team.bot.rasa_url)
    team.customers.link_identity(
        team.customers.find_by_identity("rest", "maria").id, "socketio", maria.session_id
    )
    try:
        # 1. Routed by its topic to billing, the team's group mentioned once.
        maria.ask("I want to dispute a charge", "billing team")
        maria.wait_for_handoff_state("waiting")
        billing = team.card_in(BILLING, maria.session_id)
        shown = json.dumps(billing["blocks"], ensure_ascii=False)
        assert "Routed to *billing* — rule 'billing': intent billing_dispute" in shown
        assert shown.count(f"<!subteam^{BILLING_GROUP}>") == 1
        # The card's ts is recorded right after Slack answers the post: wait for it.
        handoff = slack.wait_for(lambda: handoffs.by_card(billing["ts"]))
        assert handoff.team == "billing"

        # 2. App Home: billing's Alex sees it waiting; tech's Sam does not. Alex claims it there.
        team.home_shows("UALEX", "Maria", "Waiting")
        team.home_shows("USAM", "No open handoffs")
        team.ok(slack.click_home_button(url, "UALEX", HOME_CLAIM, str(handoff.id)))
        assert "Alex" in maria.wait_for("has joined")
        team.home_shows("UALEX", "Maria", "Alex")

        # 3. Alex transfers it to tech, with a note: a new card there, the old one read-only.
        team.ok(slack.click_button(url, TRANSFER, handoff_id(billing), "UALEX", BILLING, billing["ts"]))
        modal = latest_view(slack, MODAL)
        team.ok(
            slack.submit_view(
                url, modal["id"], "UALEX", {TEAM_BLOCK: "tech", NOTE_BLOCK: "She was charged twice on 3 Nov"}
            )
        )
        tech = team.card_in(TECH, maria.session_id)
        tech_shown = json.dumps(tech["blocks"], ensure_ascii=False)
        assert tech_shown.count(f"<!subteam^{TECH_GROUP}>") == 1 and "Routed to *tech*" in tech_shown
        arrived = team.thread_has(tech["ts"], "Transferred here from *billing* by Alex")
        assert "charged twice on 3 Nov" in arrived and "earlier thread" in arrived
        team.thread_has(billing["ts"], "Transferred to *tech* by Alex")
        old = json.dumps(slack.message(billing["ts"])["blocks"])
        assert "Transferred to tech" in old and CLAIM not in old and RESOLVE not in old
        team.home_shows("USAM", "Maria", "Waiting", "tech")
        team.home_shows("UALEX", "No open handoffs")

        # 4. The lead assigns it to Sam by name.
        team.ok(slack.click_button(url, TRANSFER, handoff_id(tech), "ULEAD", TECH, tech["ts"]))
        modal = latest_view(slack, MODAL)
        team.ok(slack.submit_view(url, modal["id"], "ULEAD", {AGENT_BLOCK: "USAM"}))
        assert "Sam" in maria.wait_for("Sam from our support team has joined")
        team.thread_has(tech["ts"], "Assigned to Sam by Lee")
        team.home_shows("USAM", "Maria", "Sam")

        # 5. The tech team's first-reply target is about to be missed: one reminder, its group once.
        reminder = team.thread_has(tech["ts"], "First reply", timeout=30)
        assert reminder.count(f"<!subteam^{TECH_GROUP}>") == 1

        # 6. Sam answers with a saved reply: picked, previewed privately, sent on Send.
        team.ok(slack.run_shortcut(url, SHORTCUT, "USAM", TECH, tech["ts"]))
        picker = latest_view(slack, "saved_reply_pick")
        team.ok(slack.submit_view(url, picker["id"], "USAM", {"saved_reply": "closing"}))
        preview = slack.wait_for(lambda: [e for e in slack.ephemerals("USAM") if SEND in json.dumps(e)])
        assert "Is there anything else I can help with, Maria?" in json.dumps(preview[-1])
        assert maria.silent_for(1) == []  # a preview sends nothing
        team.ok(slack.click_ephemeral(url, "USAM", SEND))
        maria.wait_for("Is there anything else I can help with, Maria?")
        team.thread_has(tech["ts"], "Sam sent the saved reply")

        # 7. Sam resolves it: the bot is back and the queues are empty.
        team.ok(slack.click_button(url, RESOLVE, handoff_id(tech), "USAM", TECH, tech["ts"]))
        maria.wait_for("back with the Hearthlink assistant")
        for agent in ("UALEX", "USAM"):
            team.home_shows(agent, "No open handoffs")
        assert handoffs.get(handoff.id).status == "resolved"
    finally:
        maria.close()


def test_the_desk_never_reads_slack_history(team: Team) -> None:
    """Everything above came from events and our own posts (Slack limits history reads to 1/min)."""
    calls = team.slack.call_counts()
    assert calls.get("conversations.history", 0) == 0 and calls.get("conversations.replies", 0) == 0
    assert calls.get("chat.postMessage", 0) > 0
