"""Attacks on the REST channel and the customer channels' request limits, against real servers.

The REST channel is for trusted integrations (the terminal chat, tests, a CRM that
authenticates its own users): without its token a stranger could write into any
customer's conversation by naming it as ``sender`` and read the replies. Each attack is
made as an outsider would, then the tracker store and the event broker (the SQLite files
themselves) show that nothing was stored.

Rasa and the action server (no worker), X in webhook mode against the fake X: run under
the heavy lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.channels.metadata import MAX_METADATA_BYTES, bounded_metadata
from bot.channels.rest import authorized, sender_problem
from bot.processes import BotProcesses
from tests.fakes.x import FakeX
from tests.support.bot import stored_events, whole_bot
from tests.support.x import x_env

WRONG = "a-wrong-token-of-the-right-length-0123456789"
TEN_MB = 10 * 1024 * 1024

# --- without servers ------------------------------------------------------------------------


def test_only_the_exact_bearer_token_is_accepted() -> None:
    token = "the-rest-token-0123456789-0123456789"
    assert authorized(f"Bearer {token}", token) and authorized(f"bearer {token}", token)
    for header in (None, "", token, f"Basic {token}", f"Bearer {token}x", f"Bearer {token[:-1]}", "Bearer "):
        assert not authorized(header, token), header


@pytest.mark.parametrize(
    ("sender", "fragment"),
    [
        (None, "required"),
        ("", "non-empty"),
        ("   ", "non-empty"),
        ("1400000000000000555", "X user ids"),
        (1400000000000000555, "X user ids"),
        (" 42 ", "X user ids"),
        ("wc-abc.def", "web chat"),
        ("WC-abc", "web chat"),
        (True, "text"),
        ({"id": "maria"}, "text"),
        ("s" * 201, "at most"),
    ],
)
def test_senders_of_other_channels_or_none_are_refused(sender: Any, fragment: str) -> None:
    problem = sender_problem(sender)
    assert problem is not None and fragment in problem


def test_ordinary_integration_ids_are_accepted() -> None:
    for sender in ("maria", "crm-1234", "web-visitor-7", "4x", "user@example.com"):
        assert sender_problem(sender) is None, sender


def test_metadata_is_kept_only_when_small_and_flat(caplog: pytest.LogCaptureFixture) -> None:
    assert bounded_metadata({"page": "/orders", "logged_in": True, "visits": 3}, "REST") == {
        "page": "/orders", "logged_in": True, "visits": 3,
    }  # fmt: skip
    assert bounded_metadata('{"page": "/orders"}', "web chat") == {"page": "/orders"}
    secret = "SECRET-CONTENT-4111111111111111"
    dropped = [
        {"nested": {"card": secret}},
        {"list": [secret]},
        {f"k{n}": secret for n in range(11)},
        {"big": secret + "x" * MAX_METADATA_BYTES},
        {"none": None},
        {"nan": float("nan")},
        [secret],
        secret,
        "{" + secret,
    ]
    for metadata in dropped:
        assert bounded_metadata(metadata, "REST") is None, metadata
    assert "dropped" in caplog.text and secret not in caplog.text  # why, never what
    assert bounded_metadata(None, "REST") is None and bounded_metadata({}, "REST") is None


# --- against the real servers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rest-channel")


@pytest.fixture(scope="module")
def x() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


@pytest.fixture(scope="module")
def bot(trained_model: Path, data: Path, x: FakeX) -> Iterator[BotProcesses]:
    """Rasa and the action server; X in webhook mode (only then is ``/webhooks/twitter/webhook`` served)."""
    env = {**x_env(x), "X_MODE": "webhook"}
    with whole_bot(trained_model, data, env, relay=False) as processes:
        yield processes


def post(
    bot: BotProcesses, body: Any, headers: dict[str, str] | None = None, **kwargs: Any
) -> requests.Response:
    return requests.post(bot.webhook_url, json=body, headers=headers, timeout=60, **kwargs)


def user_events(bot: BotProcesses, sender: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{bot.api_url}/conversations/{sender}/tracker", params=bot.api_params, timeout=10)
    assert answer.status_code == 200, answer.text
    return [event for event in answer.json()["events"] if event["event"] == "user"]


def test_requests_without_the_token_get_401_and_store_nothing(bot: BotProcesses, data: Path) -> None:
    assert bot.tokens is not None
    victim = f"crm-{uuid.uuid4().hex[:6]}"
    body = {"sender": victim, "message": "where is my order?"}
    before = stored_events(data)
    attempts = [
        post(bot, body),
        post(bot, body, {"Authorization": f"Bearer {WRONG}"}),
        post(bot, body, {"Authorization": f"Basic {bot.tokens.rest_token}"}),
        post(bot, body, {"Authorization": bot.tokens.rest_token}),
        post(bot, body, params={"token": bot.tokens.rest_token}),  # Rasa's API style: not here
        post(bot, body, {"Authorization": f"Bearer {bot.tokens.rasa_auth_token}"}),  # another token
    ]
    for answer in attempts:
        assert answer.status_code == 401, (answer.request.headers, answer.text)
        assert "REST_CHANNEL_TOKEN" in answer.json()["error"]
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert stored_events(data) == before  # no tracker, no broker event: not even a session start
    assert stored_events(data, victim) == 0

    answer = post(bot, body, bot.rest_headers)  # the integration with the token is answered
    assert answer.status_code == 200 and answer.json(), answer.text
    assert stored_events(data, victim) > 0


@pytest.mark.parametrize(
    "sender", [None, "1400000000000000555", "wc-R2Vyz6Ua0i5K3jPfbT9zLw1v.AAAAAAAAAAAAAAAAAAAAAA"]
)
def test_a_missing_sender_or_another_channels_id_is_a_400(bot: BotProcesses, data: Path, sender: Any) -> None:
    """No shared ``default`` conversation; no writing into an X customer's or a web-chat session."""
    before = stored_events(data)
    body = {"message": "what did the agent tell me?"} | ({"sender": sender} if sender else {})
    answer = post(bot, body, bot.rest_headers)
    assert answer.status_code == 400 and "sender" in answer.json()["error"], answer.text
    assert stored_events(data) == before
    assert stored_events(data, "default") == 0


def test_only_small_flat_metadata_reaches_the_tracker(bot: BotProcesses) -> None:
    sender = f"meta-{uuid.uuid4().hex[:6]}"
    small = {"page": "/orders", "plan": "fiber-300"}
    assert post(bot, {"sender": sender, "message": "hi", "metadata": small}, bot.rest_headers).ok
    big = {"blob": "x" * 5000}
    nested = {"profile": {"card": "4111 1111 1111 1111"}}
    for metadata in (big, nested):
        answer = post(
            bot, {"sender": sender, "message": "hello again", "metadata": metadata}, bot.rest_headers
        )
        assert answer.status_code == 200 and answer.json(), answer.text  # the message itself is answered
    rasas_own = {"model_id", "assistant_id"}  # Rasa adds these to every user event
    recorded = [
        {key: value for key, value in (event.get("metadata") or {}).items() if key not in rasas_own}
        for event in user_events(bot, sender)
    ]
    assert recorded[0] == small
    assert recorded[1:] == [{}, {}]


@pytest.mark.parametrize("path", ["/webhooks/rest/webhook", "/webhooks/twitter/webhook"])
def test_a_10_mb_body_on_a_customer_channel_gets_413_and_stores_nothing(
    bot: BotProcesses, data: Path, path: str
) -> None:
    sender = f"huge-{uuid.uuid4().hex[:6]}"
    huge = b'{"sender": "' + sender.encode() + b'", "message": "' + b"x" * TEN_MB + b'"}'
    before = stored_events(data)
    answer = requests.post(
        f"{bot.rasa_url}{path}",
        data=huge,
        headers={"Content-Type": "application/json", **bot.rest_headers},  # authorised: size is the refusal
        timeout=60,
    )
    assert answer.status_code == 413, (answer.status_code, answer.text[:200])
    # Sanic's own error, in JSON for a JSON request: {"description": "Payload Too Large", ...}
    assert "exceeds the size limit" in answer.json()["message"], answer.text[:200]
    assert stored_events(data) == before and stored_events(data, sender) == 0
