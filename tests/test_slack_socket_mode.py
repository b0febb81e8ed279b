"""The Slack handoff end to end in Socket Mode: the flow of tests/test_handoff_slack.py over a WebSocket.

The worker runs with ``SLACK_MODE=socket`` and the app token, so bot/handoff/server.py starts the
real Bolt ``AsyncSocketModeHandler``; its client is the relay's own (``SLACK_API_URL``), so
``apps.connections.open`` goes to the fake, which hands out a ``ws://127.0.0.1`` URL and then
delivers events and clicks as envelopes that must be acknowledged (tests/fakes/slack/socket_mode.py).
The fake's ``send_event`` / ``click_button`` / ``post_thread_reply`` keep their HTTP signatures,
so the flows of tests/test_handoff_slack.py run here unchanged: they are imported below and
pytest runs them again with this module's fixtures (a Socket Mode bot). What only Socket Mode
has is tested after them: no HTTP endpoint, hostile or broken frames, a connection refresh.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.customers import CustomerStore
from bot.customers.demo import load_demo_data
from bot.handoff.desks.slack import CLAIM, RESOLVE
from bot.migrations import upgrade
from bot.processes import BotProcesses
from tests.fakes.slack import FakeSlack
from tests.support.bot import whole_bot, write_business_file
from tests.support.slack_desk import handoff_id

# The HTTP-mode flows, collected again here so they run against the Socket Mode bot below.
from tests.test_handoff_slack import (  # noqa: F401
    CHANNEL,
    CLAIM_TIMEOUT_MINUTES,
    card_json,
    events_url,
    open_handoff,
    test_agent_takes_over_in_slack_and_hands_back_to_the_bot,
    test_slack_retries_and_duplicate_deliveries_reach_the_customer_once,
)

FOREIGN_TEAM = "T0EVIL"


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(socket_mode=True) as fake:
        fake.add_channel(CHANNEL, "support-handoffs")
        fake.add_user("UALEX", "Alex Morgan", "Alex")
        fake.add_user("USAM", "Sam Lee", "Sam")
        yield fake


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("socket-mode-data")


@pytest.fixture(scope="module")
def customers(data_dir: Path) -> CustomerStore:
    store = CustomerStore(f"sqlite:///{data_dir / 'customers.db'}")
    upgrade(store.url)
    load_demo_data(store)
    return store


@pytest.fixture(scope="module")
def bot(
    trained_model: Path, slack: FakeSlack, customers: CustomerStore, data_dir: Path
) -> Iterator[BotProcesses]:
    business = write_business_file(data_dir / "business.yml", claim_timeout_minutes=CLAIM_TIMEOUT_MINUTES)
    env = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": slack.signing_secret,
        "SLACK_HANDOFF_CHANNEL": CHANNEL,
        "SLACK_API_URL": slack.api_url,
        "SLACK_MODE": "socket",
        "SLACK_APP_TOKEN": slack.app_token,
        "SUPPORTBOT_BUSINESS_FILE": str(business),
        "SUPPORTBOT_DATABASE_URL": customers.url,
    }
    with whole_bot(trained_model, data_dir, env) as processes:
        slack.wait_for(lambda: slack.socket.connections()[1] == 1, timeout=30)
        yield processes


def hostile_frames(card_ts: str, handoff: str) -> list[str]:
    """Frames a broken or hostile sender might push down the socket; none may act or break it."""
    click = {
        "type": "block_actions", "team": {"id": FakeSlack.team_id}, "user": {"id": "UALEX"},
        "channel": {"id": CHANNEL}, "container": {"type": "message", "message_ts": card_ts},
        "actions": [{"action_id": RESOLVE, "value": f"{handoff} OR 1=1", "type": "button"}],
    }  # fmt: skip
    return [
        "not json at all",
        json.dumps({"type": "events_api"}),
        json.dumps({"type": "events_api", "envelope_id": "E-str", "payload": "resolve everything"}),
        json.dumps({"type": "events_api", "envelope_id": "E-empty", "payload": {"type": "event_callback"}}),
        json.dumps({"type": "interactive", "envelope_id": "E-bad-value", "payload": click}),
        json.dumps({"type": "interactive", "envelope_id": "E-no-team", "payload": {**click, "team": None}}),
    ]


def test_there_is_no_http_endpoint_and_hostile_envelopes_change_nothing(
    bot: BotProcesses, slack: FakeSlack, customers: CustomerStore
) -> None:
    customer, card = open_handoff(bot, customers, slack)
    try:
        connections = slack.socket.connections()
        # Socket Mode opens no door: the HTTP endpoint is not mounted.
        assert requests.post(events_url(bot), data=b"{}", timeout=10).status_code == 404

        for frame in hostile_frames(card["ts"], handoff_id(card)):
            slack.socket.send_raw(frame)
        # Another workspace's reply and click: acknowledged (so Slack would not retry), then dropped.
        status, _, _ = slack.post_thread_reply(
            "", CHANNEL, card["ts"], "UALEX", "reply from elsewhere", team_id=FOREIGN_TEAM
        )
        click, _ = slack.click_button(
            "", CLAIM, handoff_id(card), "UALEX", CHANNEL, card["ts"], team_id=FOREIGN_TEAM
        )
        assert (status, click) == (200, 200)
        assert customer.silent_for(2) == []
        assert "Waiting" in card_json(slack, card["ts"])

        # Same connection, still working: a real agent's claim and reply go through.
        status, _ = slack.click_button("", CLAIM, handoff_id(card), "USAM", CHANNEL, card["ts"])
        assert status == 200
        assert "Sam" in customer.wait_for("has joined")
        status, _, _ = slack.post_thread_reply("", CHANNEL, card["ts"], "USAM", "A real agent here.")
        assert status == 200
        customer.wait_for("A real agent here.")
        assert slack.socket.connections() == connections
    finally:
        customer.close()


def test_a_connection_refresh_loses_nothing(
    bot: BotProcesses, slack: FakeSlack, customers: CustomerStore
) -> None:
    customer, card = open_handoff(bot, customers, slack)
    try:
        accepted, _ = slack.socket.connections()
        slack.socket.disconnect()  # Slack asks for this every few hours ("refresh_requested")
        slack.wait_for(lambda: slack.socket.connections() == (accepted + 1, 1), timeout=30)

        status, _ = slack.click_button("", CLAIM, handoff_id(card), "UALEX", CHANNEL, card["ts"])
        assert status == 200
        status, _, _ = slack.post_thread_reply("", CHANNEL, card["ts"], "UALEX", "Back on a new socket.")
        assert status == 200
        customer.wait_for("Back on a new socket.")
        assert slack.socket.envelopes()[-1]["connection"] == accepted + 1
    finally:
        customer.close()
