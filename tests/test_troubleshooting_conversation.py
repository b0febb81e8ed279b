"""Troubleshooting on the real Rasa server and action server, with the customer's records.

The issue's case: a long message about a thermostat from a customer whose account holds no
thermostat used to get the router steps as if nothing were known. Now the bot says what the
account holds, and the first step is the thermostat's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chat import send
from bot.processes import BotProcesses
from tests.support.bot import whole_bot


@pytest.fixture(scope="module")
def running_bot(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcesses]:
    """Rasa and the action server on the demo customers (Maria: a Hub and a Cam Outdoor; James: a
    Thermostat and a Mesh Router)."""
    with whole_bot(trained_model, tmp_path_factory.mktemp("troubleshooting-bot"), relay=False) as processes:
        yield processes


def texts(bot: BotProcesses, message: str, sender: str) -> str:
    replies = send(bot.webhook_url, sender, message, token=bot.tokens.rest_token)
    return "\n".join(r.get("text", "") for r in replies)


def test_a_thermostat_the_account_does_not_hold_is_said_so_and_gets_thermostat_steps(
    running_bot: BotProcesses,
) -> None:
    reply = texts(
        running_bot,
        "hi, since yesterday evening my thermostat keeps dropping off the wifi and the app says offline, "
        "the heating schedule isn't running and it's getting cold in here, what can I do",
        sender="maria",
    )
    assert reply.count("I don't see a Hearthlink Thermostat on your account") == 1, reply
    assert "Hearthlink Hub, Hearthlink Cam Outdoor" in reply
    assert "restart the thermostat" in reply and "fibre box" not in reply
    assert "fibre box" in texts(running_bot, "no, still broken", sender="maria")  # the next step


def test_a_thermostat_on_record_gets_its_steps_and_no_remark(running_bot: BotProcesses) -> None:
    reply = texts(running_bot, "my thermostat keeps going offline", sender="james")  # he has one
    assert "on your account" not in reply and "restart the thermostat" in reply
