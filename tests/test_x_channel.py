"""The X (Twitter) channel end to end: real Rasa, action server and relay; X is a fake server.

The fake speaks the X API v2 endpoints the channel uses; the channel's real tweepy client
reaches it through ``X_API_URL`` (a transport adapter on tweepy's own session). Polling
and webhook deliveries both run against the same bot, as they would in production.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.channels.x_text import move_to_dm_text
from bot.processes import BotProcesses
from tests.fakes.x import FakeX
from tests.support.bot import NO_SLACK, whole_bot

MARIA = "1400000000000000001"  # the demo customer's X account (bot/customers/demo_customers.yml)


@pytest.fixture(scope="module")
def x() -> Iterator[FakeX]:
    with FakeX() as fake:
        fake.add_user(MARIA, "maria_lopez", "Maria Lopez")
        yield fake


def x_env(x: FakeX) -> dict[str, str]:
    """The X_* settings that point the channel's real tweepy client at the fake."""
    credentials = x.credentials
    return {
        "X_CONSUMER_KEY": credentials["consumer_key"],
        "X_CONSUMER_SECRET": credentials["consumer_secret"],
        "X_ACCESS_TOKEN": credentials["access_token"],
        "X_ACCESS_TOKEN_SECRET": credentials["access_token_secret"],
        "X_API_URL": x.base_url,
    }


@pytest.fixture(scope="module")
def bot(trained_model: Path, x: FakeX, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcesses]:
    env = {**x_env(x), "X_MODE": "polling", "X_POLL_INTERVAL": "0.5", **NO_SLACK}
    with whole_bot(trained_model, tmp_path_factory.mktemp("x-data"), env) as processes:
        # The poller's first run only marks where "now" is; wait for it before writing.
        x.wait_for(lambda: x.api_calls("dm_events"), timeout=30)
        yield processes


def webhook(bot: BotProcesses) -> str:
    return f"{bot.rasa_url}/webhooks/twitter/webhook"


def dms_to(x: FakeX, user_id: str) -> list[str]:
    return [dm["text"] for dm in x.sent_dms(user_id)]


def wait_dm(x: FakeX, user_id: str, fragment: str, timeout: float = 30) -> str:
    return x.wait_for(lambda: next((t for t in dms_to(x, user_id) if fragment in t), None), timeout=timeout)


def replies_to(x: FakeX, tweet_id: str) -> list[dict[str, Any]]:
    return [t for t in x.posted_tweets() if t.get("in_reply_to") == tweet_id]


def test_a_known_customer_gets_personal_answers_by_dm(bot: BotProcesses, x: FakeX) -> None:
    x.add_dm(MARIA, "hi there")
    assert "Maria" in wait_dm(x, MARIA, "Maria")
    x.add_dm(MARIA, "where is my order?")
    options = wait_dm(x, MARIA, "Reply with a number")
    assert "1. HL-104233" in options or "HL-104233" in options
    number = next(line.split(".")[0] for line in options.splitlines() if "HL-104233" in line)
    x.add_dm(MARIA, number)  # "1" picks the first option, as a button would
    assert "UPS" in wait_dm(x, MARIA, "UPS")


def test_a_generic_mention_is_answered_in_public_within_280_characters(bot: BotProcesses, x: FakeX) -> None:
    tweet = x.add_mention(MARIA, "@hearthlink how long does delivery take?")
    reply = x.wait_for(lambda: replies_to(x, tweet["id"]), timeout=30)[0]
    assert reply["text"].startswith("@maria_lopez ") and "delivery" in reply["text"].lower()
    assert len(reply["text"]) <= 280


def test_a_personal_mention_moves_to_dm_without_leaking_anything(bot: BotProcesses, x: FakeX) -> None:
    tweet = x.add_mention(MARIA, "@hearthlink where is my order HL-104233?? tracking says nothing")
    public = x.wait_for(lambda: replies_to(x, tweet["id"]), timeout=30)
    assert [t["text"] for t in public] == [f"@maria_lopez {move_to_dm_text()}"]
    assert "UPS" in wait_dm(x, MARIA, "UPS")  # the real answer, privately
    for posted in x.posted_tweets():
        assert (
            "HL-" not in posted["text"]
            and "@example.com" not in posted["text"]
            and "1Z" not in posted["text"]
        )


def test_webhook_answers_the_crc_challenge_and_refuses_unsigned_or_forged_posts(
    bot: BotProcesses, x: FakeX
) -> None:
    status, body = x.crc_check(webhook(bot))
    assert status == 200 and body == {"response_token": x.expected_crc_response(x.last_crc_token)}
    assert x.deliver_dm(webhook(bot), MARIA, "forged", signing_secret="wrong")[0] == 401
    assert x.deliver_raw(webhook(bot), b'{"direct_message_events": []}')[0] == 401
    assert x.deliver_raw(webhook(bot), b"{not json", signature=x.sign(b"{not json"))[0] == 400
    assert x.deliver_raw(webhook(bot), b"[1, 2]", signature=x.sign(b"[1, 2]"))[0] == 400
    time.sleep(1.5)
    assert not any("forged" in t for t in dms_to(x, MARIA))


def test_webhook_duplicates_and_the_accounts_own_messages_are_handled_once(
    bot: BotProcesses, x: FakeX
) -> None:
    x.add_user("1400000000000000077", "sam_k", "Sam K")
    before = len(dms_to(x, "1400000000000000077"))
    for _ in range(3):  # X retries; the poller will also see the same event
        status, _ = x.deliver_dm(webhook(bot), "1400000000000000077", "what are your support hours?",
                                 event_id="1800000000000000001")  # fmt: skip
        assert status == 200
    wait_dm(x, "1400000000000000077", "")
    x.deliver_own_dm(webhook(bot), "Thanks for your order!")
    time.sleep(2.5)
    assert len(dms_to(x, "1400000000000000077")) - before == 1


def test_empty_and_attachment_only_dms_get_a_clear_answer(bot: BotProcesses, x: FakeX) -> None:
    x.add_user("1400000000000000088", "pic_sender", "Pic Sender")
    x.add_dm("1400000000000000088", "", attachments={"media_keys": ["3_1"]})
    assert "can't open pictures" in wait_dm(x, "1400000000000000088", "pictures")


def test_rate_limits_delay_replies_but_lose_nothing(bot: BotProcesses, x: FakeX) -> None:
    x.add_user("1400000000000000099", "busy_bee", "Busy Bee")
    x.rate_limit("dm_create", remaining=0, reset_in=3)
    x.add_dm("1400000000000000099", "do you ship internationally?")
    assert wait_dm(x, "1400000000000000099", "ship", timeout=40)
    assert any(call.status == 429 for call in x.api_calls("dm_create"))


def test_a_person_takes_over_an_x_dm_and_replies_as_the_brand(bot: BotProcesses, x: FakeX) -> None:
    customer = "1400000000000000111"
    x.add_user(customer, "ana_b", "Ana B")
    x.add_dm(customer, "I want to talk to a human please")
    wait_dm(x, customer, "person from our support team")
    inbox = f"{bot.relay_url}/inbox/api/handoffs"

    def handoffs() -> list[dict[str, Any]]:
        return requests.get(inbox, timeout=10).json()["handoffs"]

    handoff = x.wait_for(lambda: next((h for h in handoffs() if h["conversation_id"] == customer), None))
    x.add_dm(customer, "my router keeps rebooting")
    x.wait_for(
        lambda: any(
            "rebooting" in m["text"] for h in handoffs() if h["id"] == handoff["id"] for m in h["thread"]
        ),
        timeout=30,
    )
    reply = requests.post(
        f"{inbox}/{handoff['id']}/reply", json={"agent": "Alex", "text": "Hi Ana, Alex here!"}, timeout=10
    )
    assert reply.json() == {"outcome": "relayed"}
    assert wait_dm(x, customer, "Hi Ana, Alex here!")
    assert any("Alex from our support team" in t for t in dms_to(x, customer))


def test_polling_resumes_after_a_restart_without_replaying_or_skipping(bot: BotProcesses, x: FakeX) -> None:
    x.add_user("1400000000000000222", "restart_r", "Restart R")
    x.add_dm("1400000000000000222", "hello")
    wait_dm(x, "1400000000000000222", "")
    answered = len(dms_to(x, "1400000000000000222"))
    bot.stop_one("rasa")
    x.add_dm("1400000000000000222", "what are your support hours?")  # arrives while we are down
    bot.restart("rasa")
    x.wait_for(lambda: len(dms_to(x, "1400000000000000222")) > answered, timeout=60)
    time.sleep(3)  # more polls: nothing old comes back
    texts = dms_to(x, "1400000000000000222")
    assert len(texts) == answered + 1, texts


def test_the_webhook_cli_registers_subscribes_and_checks(bot: BotProcesses, x: FakeX) -> None:
    env = {**os.environ, **x_env(x)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bot", "x-webhook", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)

    registered = cli("register", "--url", webhook(bot))  # X runs its CRC check against the live bot
    assert registered.returncode == 0, registered.stderr
    assert "valid: True" in registered.stdout and "subscribed" in registered.stdout
    checked = cli("check")
    assert checked.returncode == 0 and "subscribed=True" in checked.stdout
    refused = cli("register", "--url", f"{bot.rasa_url}/not-our-webhook")
    assert refused.returncode == 1 and "X refused it" in refused.stderr
    assert cli("register").returncode == 2  # no --url: a clear usage error


def test_a_new_x_account_proves_an_order_with_its_email_and_gets_linked(bot: BotProcesses, x: FakeX) -> None:
    newcomer = "1400000000000000333"
    x.add_user(newcomer, "maria_second", "Maria (second account)")
    x.add_dm(newcomer, "where is my order HL-104233?")
    asked = wait_dm(x, newcomer, "email address on that order")
    assert "UPS" not in asked and "1Z" not in asked  # nothing shown before the proof
    x.add_dm(newcomer, "maria.lopez@example.com")
    assert "Maria" in wait_dm(x, newcomer, "linked this chat")
    assert "UPS" in wait_dm(x, newcomer, "UPS")
