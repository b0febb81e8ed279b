"""The X (Twitter) channel end to end: real Rasa, action server and relay; X is a fake server.

The fake speaks the X API v2 endpoints the channel uses; the channel's real tweepy client
reaches it through ``X_API_URL`` (a transport adapter on tweepy's own session). Most tests
run against the polling-mode bot (the default mode); the webhook tests against a second
bot in webhook mode with its own fake X (tests/conftest.py: ``x_polling_bot``,
``x_webhook_bot``). Attacks on the webhook are in tests/security/test_x_forgery.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from bot.channels.x_text import move_to_dm_text
from bot.processes import BotProcesses
from tests.fakes.x import FakeX
from tests.support.inbox import agent_for
from tests.support.x import MARIA, dms_to, replies_to, undelivered, wait_dm, webhook_url, x_env


def test_a_known_customer_gets_personal_answers_by_dm(x_polling_bot: BotProcesses, fake_x: FakeX) -> None:
    x = fake_x  # x_polling_bot: the bot that answers
    x.add_dm(MARIA, "hi there")
    assert "Maria" in wait_dm(x, MARIA, "Maria")
    x.add_dm(MARIA, "where is my order?")
    options = wait_dm(x, MARIA, "Reply with a number")
    assert "1. HL-104233" in options or "HL-104233" in options
    number = next(line.split(".")[0] for line in options.splitlines() if "HL-104233" in line)
    x.add_dm(MARIA, number)  # "1" picks the first option, as a button would
    assert "UPS" in wait_dm(x, MARIA, "UPS")


def test_a_generic_mention_is_answered_in_public_within_280_characters(
    x_polling_bot: BotProcesses, fake_x: FakeX
) -> None:
    x = fake_x  # x_polling_bot: the bot that answers
    tweet = x.add_mention(MARIA, "@hearthlink how long does delivery take?")
    reply = x.wait_for(lambda: replies_to(x, tweet["id"]), timeout=30)[0]
    assert reply["text"].startswith("@maria_lopez ") and "delivery" in reply["text"].lower()
    assert len(reply["text"]) <= 280


def test_a_personal_mention_moves_to_dm_without_leaking_anything(
    x_polling_bot: BotProcesses, fake_x: FakeX
) -> None:
    x = fake_x  # x_polling_bot: the bot that answers
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


def test_a_personal_mention_in_spanish_is_moved_to_dm_in_spanish(
    x_polling_bot: BotProcesses, fake_x: FakeX
) -> None:
    x = fake_x  # x_polling_bot: the bot that answers
    tweet = x.add_mention(MARIA, "@hearthlink dónde está mi pedido HL-104233? el seguimiento no dice nada")
    public = x.wait_for(lambda: replies_to(x, tweet["id"]), timeout=30)
    assert [t["text"] for t in public] == [f"@maria_lopez {move_to_dm_text('es')}"]
    assert "Te hemos enviado un DM" in public[0]["text"]


def test_webhook_answers_the_crc_challenge_and_refuses_unsigned_or_forged_posts(
    x_webhook_bot: tuple[BotProcesses, FakeX],
) -> None:
    bot, x = x_webhook_bot
    status, body = x.crc_check(webhook_url(bot))
    assert status == 200 and body == {"response_token": x.expected_crc_response(x.last_crc_token)}
    assert x.deliver_dm(webhook_url(bot), MARIA, "forged", signing_secret="wrong")[0] == 401
    assert x.deliver_raw(webhook_url(bot), b'{"direct_message_events": []}')[0] == 401
    assert x.deliver_raw(webhook_url(bot), b"{not json", signature=x.sign(b"{not json"))[0] == 400
    assert x.deliver_raw(webhook_url(bot), b"[1, 2]", signature=x.sign(b"[1, 2]"))[0] == 400
    x.deliver_dm(webhook_url(bot), MARIA, "hello")  # a genuine one after them, handled in order
    wait_dm(x, MARIA, "")
    assert not any("forged" in t for t in dms_to(x, MARIA))


def test_webhook_duplicates_and_the_accounts_own_messages_are_handled_once(
    x_webhook_bot: tuple[BotProcesses, FakeX],
) -> None:
    bot, x = x_webhook_bot
    x.add_user("1400000000000000077", "sam_k", "Sam K")
    outcomes = []
    for _ in range(3):  # X retries a delivery it thinks failed
        status, text = x.deliver_dm(webhook_url(bot), "1400000000000000077", "what are your support hours?",
                                    event_id="1800000000000000001")  # fmt: skip
        assert status == 200
        outcomes += json.loads(text)["outcomes"]
    assert outcomes == ["handled", "duplicate", "duplicate"]
    status, text = x.deliver_own_dm(webhook_url(bot), "Thanks for your order!")
    assert status == 200 and json.loads(text)["outcomes"] == ["own-message"]
    # Every reply of the one handled event is queued by now (the delivery answered after the
    # turn): wait until the outbox has sent them all, then count.
    x.wait_for(lambda: undelivered(bot, "1400000000000000077") == 0, timeout=30)
    assert len(dms_to(x, "1400000000000000077")) == 1


def test_empty_and_attachment_only_dms_get_a_clear_answer(x_polling_bot: BotProcesses, fake_x: FakeX) -> None:
    x = fake_x  # x_polling_bot: the bot that answers
    x.add_user("1400000000000000088", "pic_sender", "Pic Sender")
    x.add_dm("1400000000000000088", "", attachments={"media_keys": ["3_1"]})
    assert "can't open pictures" in wait_dm(x, "1400000000000000088", "pictures")


def test_rate_limits_delay_replies_but_lose_nothing(x_polling_bot: BotProcesses, fake_x: FakeX) -> None:
    x = fake_x  # x_polling_bot: the bot that answers
    x.add_user("1400000000000000099", "busy_bee", "Busy Bee")
    x.rate_limit("dm_create", remaining=0, reset_in=3)
    x.add_dm("1400000000000000099", "do you ship internationally?")
    assert wait_dm(x, "1400000000000000099", "ship", timeout=40)
    assert any(call.status == 429 for call in x.api_calls("dm_create"))


def test_a_person_takes_over_an_x_dm_and_replies_as_the_brand(
    x_polling_bot: BotProcesses, fake_x: FakeX
) -> None:
    bot, x = x_polling_bot, fake_x
    customer = "1400000000000000111"
    x.add_user(customer, "ana_b", "Ana B")
    x.add_dm(customer, "I want to talk to a human please")
    wait_dm(x, customer, "person from our support team")
    inbox = f"{bot.relay_url}/inbox/api/handoffs"

    agent = agent_for(bot)

    def handoffs() -> list[dict[str, Any]]:
        return agent.get(inbox, timeout=10).json()["handoffs"]

    handoff = x.wait_for(lambda: next((h for h in handoffs() if h["conversation_id"] == customer), None))
    x.add_dm(customer, "my router keeps rebooting")
    x.wait_for(
        lambda: any(
            "rebooting" in m["text"] for h in handoffs() if h["id"] == handoff["id"] for m in h["thread"]
        ),
        timeout=30,
    )
    reply = agent.post(f"{inbox}/{handoff['id']}/reply", json={"text": "Hi Ana, Alex here!"}, timeout=10)
    assert reply.json() == {"outcome": "relayed"}
    assert wait_dm(x, customer, "Hi Ana, Alex here!")
    assert any("Alex from our support team" in t for t in dms_to(x, customer))


def test_polling_resumes_after_a_restart_without_replaying_or_skipping(
    x_polling_bot: BotProcesses, fake_x: FakeX
) -> None:
    bot, x = x_polling_bot, fake_x
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


def test_the_webhook_cli_registers_subscribes_and_checks(x_webhook_bot: tuple[BotProcesses, FakeX]) -> None:
    bot, x = x_webhook_bot
    env = {**os.environ, **x_env(x)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bot", "x-webhook", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)

    registered = cli("register", "--url", webhook_url(bot))  # X runs its CRC check against the live bot
    assert registered.returncode == 0, registered.stderr
    assert "valid: True" in registered.stdout and "subscribed" in registered.stdout
    checked = cli("check")
    assert checked.returncode == 0 and "subscribed=True" in checked.stdout
    refused = cli("register", "--url", f"{bot.rasa_url}/not-our-webhook")
    assert refused.returncode == 1 and "X refused it" in refused.stderr
    assert cli("register").returncode == 2  # no --url: a clear usage error


def test_a_new_x_account_proves_an_order_with_a_mailed_code_and_gets_linked(
    x_polling_bot: BotProcesses, fake_x: FakeX, x_mailbox: Any
) -> None:
    x = fake_x  # x_polling_bot: the bot that answers
    newcomer = "1400000000000000333"
    x.add_user(newcomer, "maria_second", "Maria (second account)")
    x.add_dm(newcomer, "where is my order HL-104233?")
    asked = wait_dm(x, newcomer, "email address on the order")
    assert "UPS" not in asked and "1Z" not in asked  # nothing shown before the proof
    mails = len(x_mailbox.to("maria.lopez@example.com"))
    x.add_dm(newcomer, "maria.lopez@example.com")
    wait_dm(x, newcomer, "6-digit code")  # an email alone proves nothing: a code goes to the account
    code = x_mailbox.code_in(x_mailbox.wait_for("maria.lopez@example.com", count=mails + 1)[-1])
    x.add_dm(newcomer, code)
    assert "Maria" in wait_dm(x, newcomer, "linked this chat")
    assert "UPS" in wait_dm(x, newcomer, "UPS")
