"""The X poller and client on their own (no Rasa): paging, timeouts, the CRC token rule.

X is the real-protocol fake (tests/fakes/x/); Rasa's X channel is a small stand-in that
checks the polled-events signature the way bot/channels/x.py does and records what it got.
The same behaviours are tested end to end, with real Rasa, in tests/test_x_delivery.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp.test_utils import TestServer

from bot.channels.x_api import (
    XSettings,
    crc_token_acceptable,
    make_client,
    polled_events_key,
)
from bot.channels.x_store import XStore
from bot.channels.x_worker import RasaXWebhook, XPoller
from bot.customers import CustomerStore
from bot.migrations import upgrade
from bot.outbox import RetryLater
from tests.fakes.x import FakeX
from tests.fakes.x.polled_rasa import PolledRasaStandIn
from tests.support.x import fake_x_settings

CUSTOMER = "1400000000000000501"
KEY = polled_events_key("a-rasa-auth-token-for-these-tests-0123456789")


@pytest.fixture
def x() -> Iterator[FakeX]:
    with FakeX() as fake:
        fake.add_user(CUSTOMER, "paging_pat", "Paging Pat")
        yield fake


def settings_for(x: FakeX, timeout: float = 2.0) -> XSettings:
    return fake_x_settings(x, timeout=timeout)


def run_polls(x: FakeX, store: XStore, rasa: PolledRasaStandIn, between: Any, settings: XSettings) -> None:
    """First poll (marks "now"), then ``between(poller)`` with the stand-in Rasa up."""

    async def scenario() -> None:
        async with TestServer(rasa.app()) as server:
            webhook = RasaXWebhook(str(server.make_url("")), KEY, timeout=10)
            poller = XPoller(settings, store, make_client(settings), webhook)
            try:
                await poller.poll_once()
                await between(poller)
            finally:
                await webhook.close()

    asyncio.run(scenario())


@pytest.fixture
def store(tmp_path: Path) -> XStore:
    customers = CustomerStore(f"sqlite:///{tmp_path / 'customers.db'}")
    upgrade(customers.url)
    return XStore(customers)


def test_crc_answers_only_tokens_that_cannot_be_a_delivery_body() -> None:
    for token in ("Tzg0NjQ3MjA5NzY5NTk0MTA1", "a1_b2-c3", "aGVsbG8+d29ybGQ/Pz8=", "x" * 256):
        assert crc_token_acceptable(token), token
    body = json.dumps({"direct_message_events": [{"type": "message_create", "id": "1"}]})
    for token in (body, body.replace(" ", ""), "{}", "[1]", '"abc"', "123", "true", "null", "a b",
                  "abc\n", "x" * 257, ""):  # fmt: skip
        assert not crc_token_acceptable(token), token


def test_one_poll_pages_through_more_than_100_mentions_and_dms_oldest_first(x: FakeX, store: XStore) -> None:
    rasa = PolledRasaStandIn(KEY)

    async def between(poller: XPoller) -> None:
        for number in range(130):
            x.add_mention(CUSTOMER, f"@hearthlink question {number}")
        for number in range(120):
            x.add_dm(CUSTOMER, f"dm {number}")
        await poller.poll_once()

    run_polls(x, store, rasa, between, settings_for(x))
    texts = [e["tweet_create_events"][0]["text"] for e in rasa.accepted if "tweet_create_events" in e]
    assert texts == [f"@hearthlink question {n}" for n in range(130)]
    dms = [e["direct_message_events"][0]["message_create"]["message_data"]["text"]
           for e in rasa.accepted if "direct_message_events" in e]  # fmt: skip
    assert dms == [f"dm {n}" for n in range(120)]
    assert any("pagination_token" in call.params for call in x.api_calls("mentions"))
    assert any("pagination_token" in call.params for call in x.api_calls("dm_events"))
    assert rasa.refused == 0


def test_a_hanging_x_times_out_and_the_next_poll_recovers(x: FakeX, store: XStore) -> None:
    rasa = PolledRasaStandIn(KEY)

    async def between(poller: XPoller) -> None:
        x.add_dm(CUSTOMER, "are you there?")
        x.hang("dm_events", seconds=60)
        started = time.monotonic()
        with pytest.raises(RetryLater, match="unreachable"):
            await poller.poll_once()
        assert time.monotonic() - started < 20  # the 2 s timeout, not the 60 s stall
        assert rasa.accepted == []
        await poller.poll_once()

    run_polls(x, store, rasa, between, settings_for(x, timeout=2.0))
    assert [
        e["direct_message_events"][0]["message_create"]["message_data"]["text"] for e in rasa.accepted
    ] == ["are you there?"]
    assert [call.status for call in x.api_calls("dm_events")][-2:] == [0, 200]


def test_every_client_request_has_a_timeout_whatever_the_host(x: FakeX) -> None:
    client = make_client(settings_for(x, timeout=1.5))
    x.hang("users_me", seconds=30)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        client.get_me(user_auth=True)
    assert time.monotonic() - started < 10
    assert client.get_me(user_auth=True).data.username == "hearthlink"
    for scheme in ("https://", "http://", "https://api.twitter.com/", "https://api.x.com/"):
        assert client.session.get_adapter(scheme + "example.org").timeout == (1.5, 1.5)  # type: ignore[attr-defined]
