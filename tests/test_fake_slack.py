"""The fake Slack server must be indistinguishable from Slack for the real slack_sdk / Bolt clients.

If these tests pass, a handoff test that fails against the fake is a bug in our code, not in
the fake: the real clients talk to it over HTTP, and the requests it signs verify with
slack_sdk's own SignatureVerifier and with a real Bolt app.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import FakeSlack

CHANNEL = "C0HANDOFF"
BUTTON_BLOCKS = [
    {
        "type": "section",
        "block_id": "summary",
        "text": {"type": "mrkdwn", "text": "*Handoff* for customer 42"},
    },
    {
        "type": "actions",
        "block_id": "handoff_actions",
        "elements": [
            {
                "type": "button",
                "action_id": "claim",
                "text": {"type": "plain_text", "text": "Claim"},
                "value": "conv-42",
                "style": "primary",
            }
        ],
    },
]


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        server.add_user("UAGENT", "Ada Lovelace", display_name="ada")
        yield server


class Captured:
    """Requests received by `receiver`, plus the response it should give."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.respond: Callable[[dict[str, str], bytes], tuple[int, bytes]] = lambda headers, body: (200, b"")


@pytest.fixture
def receiver() -> Iterator[tuple[str, Captured]]:
    """A bare HTTP endpoint standing in for our app, recording exactly what arrived."""
    captured = Captured()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = dict(self.headers.items())
            captured.requests.append((self.path, headers, body))
            status, reply = captured.respond(headers, body)
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/slack/events", captured
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------------- Web API


def test_async_client_posts_threads_updates_and_looks_up(fake: FakeSlack) -> None:
    async def scenario() -> None:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
        auth = await client.auth_test()
        assert (auth["user_id"], auth["bot_id"], auth["team_id"], auth["user"]) == (
            "UBOT",
            "BBOT",
            "T0001",
            "supportbot",
        )

        parent = await client.chat_postMessage(
            channel=CHANNEL, text="Handoff", blocks=BUTTON_BLOCKS, unfurl_links=False, unfurl_media=False
        )
        assert (
            parent["channel"] == CHANNEL and parent["message"]["blocks"][1]["block_id"] == "handoff_actions"
        )
        first = await client.chat_postMessage(channel=CHANNEL, text="Customer: hi", thread_ts=parent["ts"])
        second = await client.chat_postMessage(
            channel=CHANNEL, text="Customer: hello?", thread_ts=parent["ts"]
        )
        assert float(parent["ts"]) < float(first["ts"]) < float(second["ts"])

        updated = await client.chat_update(channel=CHANNEL, ts=parent["ts"], text="Claimed by ada", blocks=[])
        assert updated["text"] == "Claimed by ada"

        user = await client.users_info(user="UAGENT")
        assert user["user"]["real_name"] == "Ada Lovelace"
        assert user["user"]["profile"]["display_name"] == "ada"
        with pytest.raises(SlackApiError) as missing:
            await client.users_info(user="UNOBODY")
        assert missing.value.response["error"] == "user_not_found"

        with pytest.raises(SlackApiError) as stale:
            await client.chat_update(channel=CHANNEL, ts="1.000000", text="x")
        assert stale.value.response["error"] == "message_not_found"

        modal = {"type": "modal", "title": {"type": "plain_text", "text": "Transcript"}, "blocks": []}
        view = await client.views_open(trigger_id="123.456.abc", view=modal)
        assert view["view"]["id"].startswith("V")
        with pytest.raises(SlackApiError, match="unknown_method"):
            await client.api_call("reactions.add")  # not a method the relay calls

    asyncio.run(scenario())

    [parent] = fake.messages(CHANNEL)
    assert parent["text"] == "Claimed by ada" and parent["blocks"] == []
    assert parent["unfurl_links"] is False and parent["unfurl_media"] is False
    assert parent["history"] == [{"text": "Handoff", "blocks": BUTTON_BLOCKS}]
    assert [m["text"] for m in fake.replies(parent["ts"])] == ["Customer: hi", "Customer: hello?"]
    assert len(fake.api_calls("chat.postMessage")) == 3
    assert fake.views()[0]["trigger_id"] == "123.456.abc"
    assert [c.params["user"] for c in fake.api_calls("users.info")] == ["UAGENT", "UNOBODY"]


def test_wrong_or_missing_token_is_rejected_like_slack(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as wrong:
        WebClient(token="xoxb-wrong", base_url=fake.api_url).chat_postMessage(channel=CHANNEL, text="x")
    assert wrong.value.response.status_code == 200
    assert wrong.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=fake.api_url).auth_test()
    assert missing.value.response["error"] == "not_authed"
    assert fake.messages() == []
    assert [c.status for c in fake.api_calls()] == [200, 200]


def test_rate_limit_and_outage_reach_the_async_client(fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", 429, times=2, retry_after=1)
    fake.fail("chat.update", 500)
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)

    async def scenario() -> list[SlackApiError]:
        errors = []
        for _ in range(2):
            with pytest.raises(SlackApiError) as limited:
                await client.chat_postMessage(channel=CHANNEL, text="x")
            errors.append(limited.value)
        ts = (await client.chat_postMessage(channel=CHANNEL, text="third time lucky"))["ts"]
        with pytest.raises(SlackApiError) as server_error:
            await client.chat_update(channel=CHANNEL, ts=ts, text="y")
        errors.append(server_error.value)
        fake.set_down(True)
        with pytest.raises(SlackApiError) as down:
            await client.auth_test()
        errors.append(down.value)
        fake.set_down(False)
        assert (await client.auth_test())["ok"]
        return errors

    *limited, server_error, down = asyncio.run(scenario())
    for error in limited:
        assert error.response.status_code == 429
        assert error.response.headers["Retry-After"] == "1"
        assert error.response["error"] == "ratelimited"
    assert server_error.response.status_code == 500 and down.response.status_code == 503
    assert [m["text"] for m in fake.messages()] == ["third time lucky"]
    assert [(c.endpoint, c.status) for c in fake.api_calls()] == [
        ("chat.postMessage", 429),
        ("chat.postMessage", 429),
        ("chat.postMessage", 200),
        ("chat.update", 500),
        ("auth.test", 503),
        ("auth.test", 200),
    ]


# ---------------------------------------------------------------------- Slack -> app


def test_send_event_is_signed_and_enveloped_like_slack(
    fake: FakeSlack, receiver: tuple[str, Captured]
) -> None:
    url, captured = receiver
    verifier = SignatureVerifier(fake.signing_secret)
    event = {"type": "app_mention", "user": "UAGENT", "text": "<@UBOT> hi", "ts": "1.1", "channel": CHANNEL}

    assert fake.send_event(url, event, event_id="Ev1") == (200, "")
    fake.send_event(url, event, event_id="Ev1", retry_num=1)
    fake.send_event(url, event, timestamp=int(time.time()) - 600)
    fake.send_event(url, event, signing_secret="forged")

    (_, first_headers, first_body), retry, stale, forged = captured.requests
    assert first_headers["Content-Type"] == "application/json"
    assert verifier.is_valid_request(first_body, first_headers)
    envelope = json.loads(first_body)
    assert envelope["type"] == "event_callback" and envelope["event"] == event
    assert (envelope["event_id"], envelope["team_id"], envelope["api_app_id"]) == ("Ev1", "T0001", "A0001")
    assert envelope["authorizations"][0]["user_id"] == "UBOT"
    assert "X-Slack-Retry-Num" not in first_headers
    assert retry[1]["X-Slack-Retry-Num"] == "1" and retry[1]["X-Slack-Retry-Reason"] == "http_timeout"
    assert verifier.is_valid_request(retry[2], retry[1])
    assert not verifier.is_valid_request(stale[2], stale[1])
    assert not verifier.is_valid_request(forged[2], forged[1])
    assert json.loads(stale[2])["event_id"].startswith("Ev")


def test_thread_reply_and_bot_echo_events(fake: FakeSlack, receiver: tuple[str, Captured]) -> None:
    url, captured = receiver
    client = WebClient(token=fake.bot_token, base_url=fake.api_url)
    parent = client.chat_postMessage(channel=CHANNEL, text="Handoff")["ts"]
    bot_reply = client.chat_postMessage(channel=CHANNEL, text="Customer says hi", thread_ts=parent)["ts"]

    status, _, event = fake.post_thread_reply(url, CHANNEL, parent, "UAGENT", "On it!")

    assert status == 200
    sent = json.loads(captured.requests[0][2])["event"]
    assert sent == event
    assert {k: event[k] for k in ("type", "channel", "user", "text", "thread_ts", "channel_type")} == {
        "type": "message",
        "channel": CHANNEL,
        "user": "UAGENT",
        "text": "On it!",
        "thread_ts": parent,
        "channel_type": "channel",
    }
    assert event["event_ts"] == event["ts"] and event["parent_user_id"] == "UBOT"
    assert "bot_id" not in event
    assert [m["ts"] for m in fake.replies(parent)] == [bot_reply, event["ts"]]

    echo = fake.bot_message_event(bot_reply)
    assert (echo["user"], echo["bot_id"], echo["thread_ts"], echo["text"]) == (
        "UBOT",
        "BBOT",
        parent,
        "Customer says hi",
    )
    assert "subtype" not in echo  # modern apps' own posts carry bot_id + user, no subtype


def test_click_button_sends_signed_block_actions(fake: FakeSlack, receiver: tuple[str, Captured]) -> None:
    url, captured = receiver
    client = WebClient(token=fake.bot_token, base_url=fake.api_url)
    ts = client.chat_postMessage(channel=CHANNEL, text="Handoff", blocks=BUTTON_BLOCKS)["ts"]

    assert fake.click_button(url, "claim", "conv-42", "UAGENT", CHANNEL, ts)[0] == 200
    with pytest.raises(ValueError, match="no element with action_id 'nope'"):
        fake.click_button(url, "nope", "x", "UAGENT", CHANNEL, ts)

    _, headers, body = captured.requests[0]
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert SignatureVerifier(fake.signing_secret).is_valid_request(body, headers)
    payload = json.loads(urllib.parse.parse_qs(body.decode())["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["user"] == {"id": "UAGENT", "username": "ada", "name": "ada", "team_id": "T0001"}
    assert payload["container"] == {"type": "message", "message_ts": ts, "channel_id": CHANNEL}
    assert payload["channel"]["id"] == CHANNEL and payload["trigger_id"]
    assert payload["message"]["ts"] == ts and payload["message"]["blocks"] == BUTTON_BLOCKS
    [action] = payload["actions"]
    assert (action["action_id"], action["block_id"], action["value"], action["type"]) == (
        "claim",
        "handoff_actions",
        "conv-42",
        "button",
    )


def test_real_bolt_app_accepts_the_fake_and_ignores_its_own_echo(
    fake: FakeSlack, receiver: tuple[str, Captured]
) -> None:
    from slack_bolt import App
    from slack_bolt.request import BoltRequest

    url, captured = receiver
    app = App(
        token=fake.bot_token,
        signing_secret=fake.signing_secret,
        client=WebClient(token=fake.bot_token, base_url=fake.api_url),
    )

    @app.event("message")
    def relay(event: dict[str, Any], say: Callable[..., Any]) -> None:
        say(text=f"relayed: {event['text']}", thread_ts=event["thread_ts"])

    def dispatch(headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        response = app.dispatch(BoltRequest(body=body.decode(), headers=headers))
        return response.status, response.body.encode()

    captured.respond = dispatch
    parent = WebClient(token=fake.bot_token, base_url=fake.api_url).chat_postMessage(
        channel=CHANNEL, text="Handoff"
    )["ts"]

    assert fake.post_thread_reply(url, CHANNEL, parent, "UAGENT", "hello")[0] == 200
    relayed = fake.wait_for(lambda: [m for m in fake.replies(parent) if m.get("bot_id")], timeout=3)
    assert relayed[0]["text"] == "relayed: hello"
    assert fake.send_event(url, fake.bot_message_event(relayed[0]["ts"]))[0] == 200
    assert fake.send_event(url, {"type": "message"}, signing_secret="forged")[0] == 401
    time.sleep(0.2)  # give a wrongly-relayed echo the chance to show up
    assert len(fake.replies(parent)) == 2


def test_wait_for_reports_state_on_timeout(fake: FakeSlack) -> None:
    WebClient(token=fake.bot_token, base_url=fake.api_url).chat_postMessage(channel=CHANNEL, text="only one")
    assert fake.wait_for(lambda: fake.messages(CHANNEL), timeout=1)[0]["text"] == "only one"
    with pytest.raises(AssertionError, match=r"(?s)only one.*chat\.postMessage -> 200"):
        fake.wait_for(lambda: fake.messages("COTHER"), timeout=0.1)
