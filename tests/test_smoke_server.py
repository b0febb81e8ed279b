"""Smoke test: the real Rasa server and action server, a conversation over REST."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.chat import send
from bot.processes import BotProcesses
from tests.support.bot import whole_bot


@pytest.fixture(scope="module")
def bot_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bot-data")


@pytest.fixture(scope="module")
def running_bot(trained_model: Path, bot_data: Path) -> Iterator[BotProcesses]:
    """Rasa and the action server only: the conversation itself, no relay."""
    with whole_bot(trained_model, bot_data, relay=False) as processes:
        yield processes


def texts(bot: BotProcesses, sender: str, message: str) -> str:
    replies = send(bot.webhook_url, sender, message, token=bot.tokens.rest_token)
    return "\n".join(r.get("text", "") for r in replies)


def test_multi_turn_conversation_with_a_known_customer(running_bot: BotProcesses) -> None:
    assert "Maria" in texts(running_bot, "maria", "hi there")
    assert "Which order" in texts(running_bot, "maria", "where is my order?")
    status = texts(running_bot, "maria", "HL-104233")
    assert "shipped" in status and "UPS" in status and "1Z999AA10123456784" in status
    # a return asks which items and why, and shows what it will do, before it does it
    assert "Which items" in texts(running_bot, "maria", "I want to return order HL-100982")
    assert "Why are you sending it back" in texts(running_bot, "maria", "just the hub")
    summary = texts(running_bot, "maria", "it is too big for my shelf")
    assert "Hearthlink Hub" in summary and "$99.00" in summary and "too big for my shelf" in summary
    started = texts(running_bot, "maria", "yes")
    assert "started return" in started and "m***@example.com" in started and "$99.00" in started


def test_every_event_is_stored_and_published_once_in_order(running_bot: BotProcesses, bot_data: Path) -> None:
    """Rasa runs on our tracker store and broker (endpoints.yml): nothing silently in memory."""
    for message in ("hi", "how long does delivery take?", "thanks!"):
        assert texts(running_bot, "olga", message)
    api = requests.get(
        f"{running_bot.api_url}/conversations/olga/tracker", params=running_bot.api_params, timeout=10
    ).json()["events"]

    def stored(db: str) -> list[tuple[str, float]]:
        with sqlite3.connect(bot_data / db) as connection:
            rows = connection.execute(
                "SELECT data FROM events WHERE sender_id = 'olga' ORDER BY id"
            ).fetchall()
        return [(json.loads(d)["event"], json.loads(d)["timestamp"]) for (d,) in rows]

    expected = [(e["event"], e["timestamp"]) for e in api]
    assert stored("tracker.db") == expected
    assert stored("broker.db") == expected


def test_troubleshooting_then_handoff(running_bot: BotProcesses) -> None:
    assert "unplug" in texts(running_bot, "james", "my internet is down")
    assert "cable" in texts(running_bot, "james", "no")
    assert "person from our support team" in texts(running_bot, "james", "no, still broken")


def test_fallback_twice_then_person_for_a_new_customer(running_bot: BotProcesses) -> None:
    assert "I'm the Hearthlink assistant" in texts(running_bot, "web-visitor-7", "hello")
    assert "say it another way" in texts(running_bot, "web-visitor-7", "blorf zzzq wibble")
    assert "bring in a person" in texts(running_bot, "web-visitor-7", "qwrtz plmk vvv")
    assert "person from our support team" in texts(running_bot, "web-visitor-7", "yes please")


@pytest.mark.parametrize(
    "odd", ["🙂🙂🙂", "x" * 10_000, "¿Dónde está mi pedido? 我的订单", "<!channel> @here"]
)
def test_odd_input_gets_an_answer_not_a_traceback(running_bot: BotProcesses, odd: str) -> None:
    replies = send(running_bot.webhook_url, "odd-input", odd, token=running_bot.tokens.rest_token)
    assert replies, "the customer got no answer at all"
    joined = " ".join(r.get("text", "") for r in replies)
    assert "Traceback" not in joined and "Error" not in joined


@pytest.mark.parametrize("empty", ["", "   ", "\n\t"])
def test_an_empty_message_gets_a_clear_answer(running_bot: BotProcesses, empty: str) -> None:
    replies = send(running_bot.webhook_url, "empty-input", empty, token=running_bot.tokens.rest_token)
    assert replies and "arrived empty" in replies[0]["text"]


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        (b"not json at all", "not JSON"),
        (b'["a", "list"]', "JSON object"),
        (b'{"sender": "x"}', "'message' must be text"),
        (b'{"sender": "x", "message": 42}', "'message' must be text"),
        (b'{"sender": "' + b"s" * 300 + b'", "message": "hi"}', "'sender'"),
    ],
)
def test_malformed_requests_get_a_400_that_says_why(
    running_bot: BotProcesses, body: bytes, hint: str
) -> None:
    reply = requests.post(running_bot.webhook_url, data=body, headers=running_bot.rest_headers, timeout=30)
    assert reply.status_code == 400 and hint in reply.json()["error"]
