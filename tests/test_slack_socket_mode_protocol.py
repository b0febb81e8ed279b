"""The fake's Socket Mode speaks Slack's protocol to the real Bolt AsyncSocketModeHandler.

No bot here (cheap, no heavy lock): a small Bolt app whose client is pointed at the fake the way
the relay's is (``base_url`` from ``SLACK_API_URL``, bot/handoff/slack_app.py ``slack_client``),
run by the same ``AsyncSocketModeHandler`` bot/handoff/server.py starts. What the fake does here
is what tests/test_slack_socket_mode.py relies on with the whole bot: hello, acknowledged
envelopes, redelivery of an unacknowledged event, reconnecting on ``disconnect``, and surviving
frames that are not envelopes at all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from slack_bolt.async_app import AsyncApp
from slack_sdk import WebClient

from bot.handoff.settings import SlackSettings
from bot.handoff.slack_app import slack_client
from tests.fakes.slack import FakeSlack
from tests.support.bolt_app import connected

CHANNEL = "C0HANDOFF"
CLAIM_BUTTON = {"type": "button", "action_id": "claim", "text": {"type": "plain_text", "text": "Claim"}}
BUTTONS = [{"type": "actions", "block_id": "b", "elements": [{**CLAIM_BUTTON, "value": "7"}]}]


class Listener:
    """A Bolt app recording what reaches its listeners; ``fail_next`` makes the next one raise."""

    def __init__(self, slack: FakeSlack) -> None:
        settings = SlackSettings(
            slack.bot_token, slack.signing_secret, CHANNEL, "socket", slack.app_token, slack.api_url
        )
        self.app = AsyncApp(
            client=slack_client(settings),
            signing_secret=slack.signing_secret,
            process_before_response=True,
            raise_error_for_unhandled_request=False,
        )
        self.seen: list[tuple[str, Any]] = []
        self.fail_next = 0

        @self.app.event("message")
        async def on_message(event: dict[str, Any], context: Any) -> None:
            self.record("message", event.get("text"))

        @self.app.action("claim")
        async def on_claim(ack: Any, action: dict[str, Any]) -> None:
            await ack()
            self.record("claim", action["value"])

    def record(self, kind: str, value: Any) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("listener failed (as if the database were down)")
        self.seen.append((kind, value))


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(socket_mode=True) as fake:
        fake.socket.ack_timeout = 0.7  # Slack waits 3 s; the retries below need not
        yield fake


@pytest.fixture
def listener(slack: FakeSlack) -> Iterator[Listener]:
    rig = Listener(slack)
    with connected(rig.app, slack.app_token):
        slack.wait_for(lambda: slack.socket.connections()[1] == 1)
        yield rig


def reply_event(slack: FakeSlack, text: str) -> dict[str, Any]:
    ts = slack.new_ts()
    return {"type": "message", "channel": CHANNEL, "user": "UALEX", "text": text, "ts": ts,
            "thread_ts": "1700000000.000100", "event_ts": ts, "channel_type": "channel"}  # fmt: skip


def post_card(slack: FakeSlack) -> dict[str, Any]:
    """A message with a Claim button, posted by the bot through the Web API."""
    return (
        WebClient(token=slack.bot_token, base_url=slack.api_url)
        .chat_postMessage(channel=CHANNEL, text="card", blocks=BUTTONS)
        .data
    )


def test_connections_open_answers_only_the_app_token_with_a_one_time_url(slack: FakeSlack) -> None:
    def open_with(token: str | None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(f"{slack.api_url}apps.connections.open", headers=headers, timeout=5).json()

    assert open_with(None)["error"] == "not_authed"
    assert open_with(slack.bot_token)["error"] == "not_allowed_token_type"
    assert open_with("xapp-1-A0001-1-someone-else")["error"] == "invalid_auth"
    answer = open_with(slack.app_token)
    assert answer["ok"] is True and answer["url"].startswith(f"ws://127.0.0.1:{slack.port}/link/?ticket=")

    async def handshake(url: str) -> str:
        import aiohttp

        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            return (await ws.receive_json())["type"]

    assert asyncio.run(handshake(answer["url"])) == "hello"
    with pytest.raises(Exception, match="401"):  # the ticket is used up; a guessed one never works
        asyncio.run(handshake(answer["url"]))
    with pytest.raises(Exception, match="401"):
        asyncio.run(handshake(answer["url"].replace("ticket=", "ticket=0")))
    assert slack.socket.refused() == 2


def test_events_and_clicks_arrive_as_envelopes_and_every_one_is_acknowledged(
    slack: FakeSlack, listener: Listener
) -> None:
    assert slack.api_calls("apps.connections.open")[-1].status == 200
    status, ack = slack.send_event("ignored-in-socket-mode", reply_event(slack, "hello over the socket"))
    card = post_card(slack)
    click_status, click_ack = slack.click_button("ignored", "claim", "7", "UALEX", CHANNEL, card["ts"])

    assert (status, click_status) == (200, 200)
    assert listener.seen == [("message", "hello over the socket"), ("claim", "7")]
    sent = slack.socket.envelopes()
    assert [(s["type"], s["retry_attempt"]) for s in sent] == [("events_api", 0), ("interactive", 0)]
    assert [json.loads(a)["envelope_id"] for a in (ack, click_ack)] == [s["envelope_id"] for s in sent]
    assert slack.socket.strays() == []


def test_an_event_not_acknowledged_in_time_is_sent_again_with_retry_attempt(
    slack: FakeSlack, listener: Listener
) -> None:
    listener.fail_next = 2  # Bolt answers a failed listener with 500, which the handler does not ack
    status, _ = slack.send_event("ignored", reply_event(slack, "third time lucky"))

    assert status == 200
    sent = slack.socket.envelopes()
    assert [(s["retry_attempt"], s["ack"] is not None) for s in sent] == [(0, False), (1, False), (2, True)]
    assert len({s["envelope_id"] for s in sent}) == 3
    assert listener.seen == [("message", "third time lucky")]


def test_an_unacknowledged_click_is_not_retried_and_reports_why(slack: FakeSlack, listener: Listener) -> None:
    card = post_card(slack)
    listener.fail_next = 1
    status, why = slack.click_button("ignored", "claim", "7", "UALEX", CHANNEL, card["ts"])

    assert status == 408 and "not acknowledged" in why
    assert len(slack.socket.envelopes()) == 1 and listener.seen == []


def test_disconnect_makes_the_client_reconnect_and_delivery_continues(
    slack: FakeSlack, listener: Listener
) -> None:
    slack.socket.disconnect()
    slack.wait_for(lambda: slack.socket.connections() == (2, 1), timeout=15)
    status, _ = slack.send_event("ignored", reply_event(slack, "after the refresh"))

    assert status == 200
    assert slack.socket.envelopes()[-1]["connection"] == 2
    assert listener.seen == [("message", "after the refresh")]
    assert len(slack.api_calls("apps.connections.open")) == 2


@pytest.mark.parametrize(
    "frame",
    [
        "not json at all",
        "[1, 2, 3]",
        json.dumps({"type": "events_api"}),  # no envelope_id, no payload
        json.dumps({"type": "events_api", "envelope_id": "E1", "payload": "just a string"}),
        json.dumps({"type": "events_api", "envelope_id": "E2", "payload": {"type": "event_callback"}}),
        json.dumps({"type": "interactive", "envelope_id": "E3", "payload": {"type": "block_actions"}}),
        json.dumps({"type": "slash_commands", "envelope_id": "E4", "payload": None}),
    ],
)
def test_a_malformed_frame_does_not_break_the_connection(
    slack: FakeSlack, listener: Listener, frame: str
) -> None:
    slack.socket.send_raw(frame)
    status, _ = slack.send_event("ignored", reply_event(slack, "still here"))

    assert status == 200
    assert listener.seen == [("message", "still here")]
    assert slack.socket.connections() == (1, 1)
