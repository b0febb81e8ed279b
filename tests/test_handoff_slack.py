"""The Slack handoff end to end: real Rasa, action server and relay; Slack is a fake server.

The fake speaks Slack's HTTP protocol on 127.0.0.1: the relay's real slack_sdk client
posts to it (``SLACK_API_URL``), and it sends signed Events API and interactivity
requests into the relay's Bolt endpoint, exactly as Slack would. Customers write from
the website chat (Socket.IO), so an agent's reply has to be pushed to them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.customers import CustomerStore
from bot.customers.demo import load_demo_data
from bot.handoff.desks.slack import CLAIM, RESOLVE, TRANSCRIPT
from bot.migrations import upgrade
from bot.processes import BotProcesses
from tests.fakes.slack import FakeSlack
from tests.support.bot import whole_bot, write_business_file
from tests.support.slack_desk import handoff_id
from tests.support.webchat import WebChatCustomer

CHANNEL = "C0HANDOFF"
CLAIM_TIMEOUT_MINUTES = 0.5  # short, so the "nobody came" path can be tested


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_channel(CHANNEL, "support-handoffs")
        fake.add_user("UALEX", "Alex Morgan", "Alex")
        fake.add_user("USAM", "Sam Lee", "Sam")
        yield fake


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("handoff-data")


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
        "SUPPORTBOT_BUSINESS_FILE": str(business),
        "SUPPORTBOT_DATABASE_URL": customers.url,
    }
    with whole_bot(trained_model, data_dir, env) as processes:
        yield processes


def events_url(bot: BotProcesses) -> str:
    return f"{bot.relay_url}/slack/events"


def customer_as(bot: BotProcesses, customers: CustomerStore, demo: str | None) -> WebChatCustomer:
    """A new web-chat customer (the server issues its session id); ``demo`` links that session to
    a demo customer (as after a login)."""
    customer = WebChatCustomer(bot.rasa_url)
    if demo is not None:
        known = customers.find_by_identity("rest", demo)
        customers.link_identity(known.id, "socketio", customer.session_id)
    return customer


def card_for(slack: FakeSlack, conversation_id: str, timeout: float = 40) -> dict[str, Any]:
    """The conversation's card. The desk posts about one message a second per channel, as Slack
    allows (bot/handoff/desks/slack/pacing.py), and this module's handoffs share one channel, so a
    new card can wait behind earlier threads' posts: seen in CI at just over 15 s on 2 busy cores."""
    return slack.wait_for(
        lambda: next(
            (m for m in slack.messages(CHANNEL) if conversation_id in json.dumps(m.get("blocks"))), None
        ),
        timeout=timeout,
    )


def card_json(slack: FakeSlack, ts: str) -> str:
    message = slack.message(ts)
    return json.dumps({"text": message["text"], "blocks": message["blocks"]})


def thread_texts(slack: FakeSlack, ts: str) -> list[str]:
    return [reply["text"] for reply in slack.replies(ts)]


def wait_thread(slack: FakeSlack, ts: str, fragment: str, timeout: float = 10) -> str:
    return slack.wait_for(lambda: next((t for t in thread_texts(slack, ts) if fragment in t), None), timeout)


def tracker(bot: BotProcesses, conversation_id: str) -> dict[str, Any]:
    return requests.get(
        f"{bot.rasa_url}/conversations/{conversation_id}/tracker", params=bot.api_params, timeout=10
    ).json()


def open_handoff(
    bot: BotProcesses, customers: CustomerStore, slack: FakeSlack, demo: str | None = None
) -> tuple[WebChatCustomer, dict[str, Any]]:
    customer = customer_as(bot, customers, demo)
    customer.ask("I want to talk to a human", "person from our support team")
    customer.wait_for_handoff_state("waiting")  # the banner's message follows the text
    return customer, card_for(slack, customer.session_id)


def test_agent_takes_over_in_slack_and_hands_back_to_the_bot(
    bot: BotProcesses, slack: FakeSlack, customers: CustomerStore
) -> None:
    maria = customer_as(bot, customers, "maria")
    try:
        assert "Maria" in maria.ask("hi", "Maria")
        maria.ask("where is my order HL-104233?", "UPS")
        handoff_reply = maria.ask("can I talk to a real person please", "person from our support team")
        assert "min" in handoff_reply  # tells the customer what to expect

        # One card with the whole context, in the configured channel.
        card = card_for(slack, maria.session_id)
        content = card_json(slack, card["ts"])
        for expected in (
            "Maria Lopez",
            "Website chat",
            "asked for a person",
            "HL-104233",
            "HL-100982",
            "order_status",
            "What we know",
            "Order number",
            CLAIM,
            RESOLVE,
            TRANSCRIPT,
        ):
            assert expected in content, expected
        assert card.get("unfurl_links") in (False, "false", "0", 0)

        # The bot is paused: what Maria writes goes to the thread, in order, and the bot is quiet.
        for text in ("hello?", "it was supposed to arrive yesterday", "are you there"):
            maria.say(text)
        wait_thread(slack, card["ts"], "are you there")
        customer_lines = [t for t in thread_texts(slack, card["ts"]) if "Customer" in t]
        assert [line.split("Customer:*")[-1].strip() for line in customer_lines] == [
            "hello?", "it was supposed to arrive yesterday", "are you there",
        ]  # fmt: skip
        assert maria.silent_for(1.5) == []

        # Claim: the card shows the owner.
        status, _ = slack.click_button(events_url(bot), CLAIM, handoff_id(card), "UALEX", CHANNEL, card["ts"])
        assert status == 200
        slack.wait_for(lambda: "Alex" in card_json(slack, card["ts"]))
        assert "Alex" in maria.wait_for("has joined")

        # The agent's reply reaches Maria on the web chat and is recorded as the agent's.
        status, _, reply = slack.post_thread_reply(
            events_url(bot), CHANNEL, card["ts"], "UALEX", "Hi Maria, I've asked UPS to trace it."
        )
        assert status == 200
        maria.wait_for("asked UPS to trace it")
        recorded = [e for e in tracker(bot, maria.session_id)["events"] if e["event"] == "bot"]
        assert recorded[-1]["text"] == "Hi Maria, I've asked UPS to trace it."
        assert recorded[-1]["metadata"]["agent_name"] == "Alex"

        # Internal notes stay in Slack; the bot's own posts never loop back.
        slack.post_thread_reply(events_url(bot), CHANNEL, card["ts"], "UALEX", "// escalated to UPS desk")
        slack.send_event(events_url(bot), slack.bot_message_event(slack.replies(card["ts"])[-1]["ts"]))
        assert maria.silent_for(2) == []

        # The full transcript opens as a modal.
        slack.click_button(events_url(bot), TRANSCRIPT, handoff_id(card), "UALEX", CHANNEL, card["ts"])
        slack.wait_for(lambda: slack.views())
        assert "where is my order" in json.dumps(slack.views()[-1]["view"])

        # Resolve: the bot is back, says so, and answers the next question itself.
        slack.click_button(events_url(bot), RESOLVE, handoff_id(card), "UALEX", CHANNEL, card["ts"])
        maria.wait_for("back with the Hearthlink assistant")
        slack.wait_for(lambda: "Resolved" in card_json(slack, card["ts"]))
        assert CLAIM not in json.dumps(slack.message(card["ts"])["blocks"])
        assert "Standard delivery takes" in maria.ask("how long does delivery take?", "delivery")
        assert reply["ts"]  # the reply event the fake delivered
    finally:
        maria.close()


def test_upset_customer_goes_straight_to_a_person_with_sentiment_on_the_card(
    bot: BotProcesses, slack: FakeSlack, customers: CustomerStore
) -> None:
    james = customer_as(bot, customers, "james")
    try:
        reply = james.ask(
            "This is RIDICULOUS!!! Third time I'm asking, your service is a joke",
            "person from our support team",
        )
        assert reply
        content = card_json(slack, card_for(slack, james.session_id)["ts"])
        assert "upset" in content and "angry" in content.lower()
    finally:
        james.close()


def test_forged_and_stale_slack_requests_are_refused_and_change_nothing(
    bot: BotProcesses, slack: FakeSlack, customers: CustomerStore
) -> None:
    customer, card = open_handoff(bot, customers, slack)
    try:
        forged = slack.post_thread_reply(
            events_url(bot), CHANNEL, card["ts"], "UALEX", "forged text", signing_secret="not-the-secret"
        )
        stale = slack.post_thread_reply(
            events_url(bot), CHANNEL, card["ts"], "UALEX", "replayed text", timestamp=int(time.time()) - 600
        )
        click = slack.click_button(
            events_url(bot),
            RESOLVE,
            handoff_id(card),
            "UALEX",
            CHANNEL,
            card["ts"],
            signing_secret="not-the-secret",
        )
        assert forged[0] == stale[0] == click[0] == 401
        assert customer.silent_for(2) == []
        assert "Waiting" in card_json(slack, card["ts"])
    finally:
        customer.close()


def test_slack_retries_and_duplicate_deliveries_reach_the_customer_once(
    bot: BotProcesses, slack: FakeSlack, customers: CustomerStore
) -> None:
    customer, card = open_handoff(bot, customers, slack)
    try:
        event = {
            "type": "message", "channel": CHANNEL, "user": "USAM", "text": "Only once, please.",
            "ts": slack.new_ts(), "thread_ts": card["ts"], "event_ts": slack.new_ts(),
            "channel_type": "channel",
        }  # fmt: skip
        for retry in (None, 1, 2):
            status, _ = slack.send_event(events_url(bot), event, event_id="EvDUPE1", retry_num=retry)
            assert status == 200
        customer.wait_for("Only once, please.")
        assert customer.silent_for(2) == []
        assert customer.texts().count("Only once, please.") == 1
    finally:
        customer.close()


def test_rate_limits_and_outages_delay_delivery_but_lose_nothing_and_keep_order(
    bot: BotProcesses, slack: FakeSlack, customers: CustomerStore
) -> None:
    slack.fail("chat.postMessage", status=429, times=2, retry_after=1)
    customer, card = open_handoff(bot, customers, slack)
    try:
        slack.fail("chat.postMessage", status=500, times=2)
        customer.say("first")
        slack.set_down(True)
        customer.say("second")
        customer.say("third")
        time.sleep(2)
        slack.set_down(False)
        wait_thread(slack, card["ts"], "third", timeout=30)
        lines = [
            t.split("Customer:*")[-1].strip() for t in thread_texts(slack, card["ts"]) if "Customer" in t
        ]
        assert lines == ["first", "second", "third"]
        assert any(call.status == 429 for call in slack.api_calls("chat.postMessage"))
    finally:
        customer.close()


def test_mentions_links_and_secrets_from_customers_never_reach_slack_raw(
    bot: BotProcesses, slack: FakeSlack, customers: CustomerStore
) -> None:
    customer, card = open_handoff(bot, customers, slack)
    try:
        customer.say(
            "<!channel> <!here> @everyone <@U0ADMIN> <https://evil.example|click me> "
            "my card is 4111 1111 1111 1111 and my password is Hunter2!"
        )
        text = wait_thread(slack, card["ts"], "click me")
        for raw in ("<!channel>", "<!here>", "<@U0ADMIN>", "<https://", "4111 1111 1111 1111", "Hunter2"):
            assert raw not in text, raw
        assert "&lt;!channel&gt;" in text and "1111" in text  # shown as text; last 4 digits kept
    finally:
        customer.close()


def test_a_handoff_during_a_return_shows_its_items_and_reason_escaped(
    bot: BotProcesses, slack: FakeSlack, customers: CustomerStore
) -> None:
    """Handed off at the return's summary: the card says which items and why, inert for Slack."""
    maria = customer_as(bot, customers, "maria")
    try:
        maria.ask("I want to return HL-100982", "Which items")
        maria.ask("just the plugs", "Why are you sending it back")
        maria.ask("they buzz all night <!channel> <https://evil.example|click>", "Shall I start it")
        maria.ask("actually I want to talk to a person", "person from our support team")
        content = json.loads(card_json(slack, card_for(slack, maria.session_id)["ts"]))
        content = json.dumps(content, ensure_ascii=False)
        assert "*Return being set up:* *HL-100982* · 2 × Hearthlink Smart Plug" in content
        assert "reason: “they buzz all night &lt;!channel&gt; &lt;https://evil.example|click&gt;”" in content
        assert "<!channel>" not in content and "<https://evil" not in content
        assert customers.find_order("HL-100982").returns == ()  # nothing was returned
    finally:
        maria.close()


def test_unclaimed_handoff_times_out_and_the_bot_takes_a_message(
    bot: BotProcesses, slack: FakeSlack, customers: CustomerStore
) -> None:
    customer, card = open_handoff(bot, customers, slack, demo="priya")
    try:
        offer = customer.wait_for("take a message", timeout=CLAIM_TIMEOUT_MINUTES * 60 + 30)
        assert offer
        customer.ask("yes", "What should I pass on")
        customer.ask("Please call me back about my router, order HL-103377", "passed that on")
        wait_thread(slack, card["ts"], "call me back about my router")
        slack.wait_for(lambda: "in time" in card_json(slack, card["ts"]))
    finally:
        customer.close()


def test_restart_during_a_handoff_loses_nothing(
    bot: BotProcesses, slack: FakeSlack, customers: CustomerStore
) -> None:
    customer, card = open_handoff(bot, customers, slack)
    customer.close()
    bot.stop_one("rasa")  # the customer's side is down: replies must wait in the outbox
    status, _, _ = slack.post_thread_reply(events_url(bot), CHANNEL, card["ts"], "USAM", "Still with you!")
    assert status == 200
    bot.restart("worker")  # the relay runs in the worker
    bot.restart("rasa")
    slack.wait_for(
        lambda: any(e.get("text") == "Still with you!" for e in tracker(bot, customer.session_id)["events"]),
        timeout=120,  # the outbox retries at most every 30 s while Rasa was down
    )
    # Still paused after the restarts: the customer's next message goes to the thread only.
    back = WebChatCustomer(bot.rasa_url, customer.session_id)  # the id it kept: same conversation
    assert back.resumed
    try:
        back.say("thanks, I'll wait")
        wait_thread(slack, card["ts"], "I'll wait", timeout=20)
        assert back.silent_for(1.5) == []
    finally:
        back.close()
