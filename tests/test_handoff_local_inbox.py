"""Without any Slack settings, a whole handoff works through the local agent inbox.

Real Rasa, action server and relay; the customer uses the REST channel (what the terminal
chat uses), the agent uses the inbox's HTTP API (what the /inbox page calls).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.chat import send
from bot.processes import BotProcesses
from tests.support.bot import NO_SLACK, whole_bot

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def bot(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcesses]:
    with whole_bot(trained_model, tmp_path_factory.mktemp("inbox-data"), NO_SLACK) as processes:
        yield processes


def say(bot: BotProcesses, sender: str, text: str) -> str:
    return "\n".join(reply.get("text", "") for reply in send(bot.webhook_url, sender, text))


def inbox(bot: BotProcesses) -> list[dict[str, Any]]:
    return requests.get(f"{bot.relay_url}/inbox/api/handoffs", timeout=10).json()["handoffs"]


def act(bot: BotProcesses, handoff: int, verb: str, **body: str) -> requests.Response:
    return requests.post(f"{bot.relay_url}/inbox/api/handoffs/{handoff}/{verb}", json=body, timeout=10)


def bot_texts(bot: BotProcesses, sender: str) -> list[str]:
    events = requests.get(f"{bot.rasa_url}/conversations/{sender}/tracker", params=bot.api_params, timeout=10).json()["events"]
    return [e.get("text") or "" for e in events if e["event"] == "bot"]


def wait_for(condition: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_a_handoff_end_to_end_in_the_local_inbox(bot: BotProcesses) -> None:
    health = requests.get(f"{bot.relay_url}/health", timeout=10).json()
    assert health["desk"] == "local"
    page = requests.get(f"{bot.relay_url}/inbox", timeout=10)
    assert page.status_code == 200 and "Agent inbox" in page.text

    assert "person from our support team" in say(bot, "maria", "can I speak to a human please")
    handoff = wait_for(lambda: next((h for h in inbox(bot) if h["conversation_id"] == "maria"), None))
    assert handoff["status"] == "waiting" and handoff["packet"]["customer"]["name"] == "Maria Lopez"
    assert say(bot, "maria", "hello? my card is 4111 1111 1111 1111") == ""  # paused: the bot is quiet
    thread = wait_for(lambda: [m for h in inbox(bot) if h["id"] == handoff["id"] for m in h["thread"]
                               if "hello?" in m["text"]])  # fmt: skip
    assert "4111 1111 1111 1111" not in thread[0]["text"]
    # Plain text, not Slack mrkdwn: what the customer wrote, redacted, with no entities or emoji codes.
    assert thread[0]["author"] == "customer" and thread[0]["text"] == "hello? my card is [card •••• 1111]"
    assert say(bot, "maria", XSS) == ""
    attack = wait_for(lambda: [m for h in inbox(bot) if h["id"] == handoff["id"] for m in h["thread"]
                               if "onerror" in m["text"]])  # fmt: skip
    assert attack[0]["text"] == XSS  # shown as the text it is; the page puts it in a text node
    assert "&lt;" not in requests.get(f"{bot.relay_url}/inbox/api/handoffs", timeout=10).text

    assert act(bot, handoff["id"], "reply", agent="Alex", text="Hi Maria, Alex here.").json() == {
        "outcome": "relayed"
    }
    assert act(bot, handoff["id"], "reply", agent="Alex", text="// double-check the refund").json() == {
        "outcome": "internal-note"
    }
    wait_for(lambda: "Hi Maria, Alex here." in bot_texts(bot, "maria"))
    texts = bot_texts(bot, "maria")
    assert "Alex from our support team has joined the conversation." in texts
    assert not any("double-check" in text for text in texts)

    assert act(bot, handoff["id"], "resolve", agent="Alex").json()["status"] == "resolved"
    wait_for(lambda: any("back with the Hearthlink assistant" in text for text in bot_texts(bot, "maria")))
    assert "Standard delivery takes" in say(bot, "maria", "how long does delivery take?")


def test_the_inbox_api_refuses_bad_requests_clearly(bot: BotProcesses) -> None:
    say(bot, "james", "I need a real person")
    handoff = wait_for(lambda: next((h for h in inbox(bot) if h["conversation_id"] == "james"), None))
    missing_agent = act(bot, handoff["id"], "reply", text="hi")
    assert missing_agent.status_code == 400 and "agent" in missing_agent.text
    empty = act(bot, handoff["id"], "reply", agent="Alex", text="   ")
    assert empty.status_code == 400
    not_json = requests.post(
        f"{bot.relay_url}/inbox/api/handoffs/{handoff['id']}/reply", data="x", timeout=10
    )
    assert not_json.status_code == 400
    assert act(bot, 99999, "claim", agent="Alex").status_code == 404
    assert act(bot, handoff["id"], "claim", agent="Alex").json()["status"] == "claimed"
