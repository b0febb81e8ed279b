"""Without any Slack settings, a whole handoff works through the local agent inbox.

Real Rasa, action server and relay; the customer uses the REST channel (what the terminal
chat uses), the agent logs in and uses the inbox's HTTP API (what the /inbox page calls).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.chat import send
from bot.customers import CustomerStore
from bot.processes import BotProcesses
from tests.support.bot import NO_SLACK, whole_bot
from tests.support.inbox import add_agent, login
from tests.support.waiting import wait_for

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def bot(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcesses]:
    data = tmp_path_factory.mktemp("inbox-data")
    with whole_bot(trained_model, data, NO_SLACK) as processes:
        add_agent(CustomerStore(f"sqlite:///{data / 'customers.db'}"))
        yield processes


@pytest.fixture(scope="module")
def agent(bot: BotProcesses) -> requests.Session:
    """The agent Alex, logged in to the inbox (cookie + CSRF header), as the page would be."""
    return login(bot.relay_url)


def say(bot: BotProcesses, sender: str, text: str) -> str:
    replies = send(bot.webhook_url, sender, text, token=bot.tokens.rest_token)
    return "\n".join(reply.get("text", "") for reply in replies)


def inbox(bot: BotProcesses, agent: requests.Session) -> list[dict[str, Any]]:
    return agent.get(f"{bot.relay_url}/inbox/api/handoffs", timeout=10).json()["handoffs"]


def act(
    bot: BotProcesses, agent: requests.Session, handoff: int, verb: str, **body: str
) -> requests.Response:
    """A click or reply in the inbox, as the logged-in agent."""
    return agent.post(f"{bot.relay_url}/inbox/api/handoffs/{handoff}/{verb}", json=body, timeout=10)


def bot_texts(bot: BotProcesses, sender: str) -> list[str]:
    events = requests.get(
        f"{bot.rasa_url}/conversations/{sender}/tracker", params=bot.api_params, timeout=10
    ).json()["events"]
    return [e.get("text") or "" for e in events if e["event"] == "bot"]


def test_a_handoff_end_to_end_in_the_local_inbox(bot: BotProcesses, agent: requests.Session) -> None:
    health = requests.get(f"{bot.relay_url}/health", headers=bot.metrics_headers, timeout=10).json()
    assert health["desk"] == "local"
    page = requests.get(f"{bot.relay_url}/inbox", timeout=10)
    assert page.status_code == 200 and "Agent inbox" in page.text

    assert "person from our support team" in say(bot, "maria", "can I speak to a human please")
    handoff = wait_for(lambda: next((h for h in inbox(bot, agent) if h["conversation_id"] == "maria"), None))
    assert handoff["status"] == "waiting" and handoff["packet"]["customer"]["name"] == "Maria Lopez"
    assert say(bot, "maria", "hello? my card is 4111 1111 1111 1111") == ""  # paused: the bot is quiet
    thread = wait_for(lambda: [m for h in inbox(bot, agent) if h["id"] == handoff["id"] for m in h["thread"]
                               if "hello?" in m["text"]])  # fmt: skip
    assert "4111 1111 1111 1111" not in thread[0]["text"]
    # Plain text, not Slack mrkdwn: what the customer wrote, redacted, with no entities or emoji codes.
    assert thread[0]["author"] == "customer" and thread[0]["text"] == "hello? my card is [card •••• 1111]"
    assert say(bot, "maria", XSS) == ""
    attack = wait_for(lambda: [m for h in inbox(bot, agent) if h["id"] == handoff["id"] for m in h["thread"]
                               if "onerror" in m["text"]])  # fmt: skip
    assert attack[0]["text"] == XSS  # shown as the text it is; the page puts it in a text node
    assert "&lt;" not in agent.get(f"{bot.relay_url}/inbox/api/handoffs", timeout=10).text

    assert act(bot, agent, handoff["id"], "reply", text="Hi Maria, Alex here.").json() == {
        "outcome": "relayed"
    }
    assert act(bot, agent, handoff["id"], "reply", text="// double-check the refund").json() == {
        "outcome": "internal-note"
    }
    wait_for(lambda: "Hi Maria, Alex here." in bot_texts(bot, "maria"))
    texts = bot_texts(bot, "maria")
    assert "Alex from our support team has joined the conversation." in texts
    assert not any("double-check" in text for text in texts)

    assert act(bot, agent, handoff["id"], "resolve").json()["status"] == "resolved"
    wait_for(lambda: any("back with the Hearthlink assistant" in text for text in bot_texts(bot, "maria")))
    assert "Standard delivery takes" in say(bot, "maria", "how long does delivery take?")


def test_the_inbox_api_refuses_bad_requests_clearly(bot: BotProcesses, agent: requests.Session) -> None:
    say(bot, "james", "I need a real person")
    handoff = wait_for(lambda: next((h for h in inbox(bot, agent) if h["conversation_id"] == "james"), None))
    empty = act(bot, agent, handoff["id"], "reply", text="   ")
    assert empty.status_code == 400 and "empty" in empty.text
    url = f"{bot.relay_url}/inbox/api/handoffs/{handoff['id']}/reply"
    not_json = agent.post(url, data="x", headers={"Content-Type": "application/json"}, timeout=10)
    assert not_json.status_code == 400 and "JSON" in not_json.text
    assert agent.post(url, data="x", timeout=10).status_code == 415  # not declared as JSON
    assert act(bot, agent, 99999, "claim").status_code == 404
    assert act(bot, agent, handoff["id"], "claim").json()["status"] == "claimed"
