"""What the shipped model makes of two requests in one message and of emoji-only messages.

`rasa test core` (tests/test_e2e_stories.py) takes each message's intent and entities from
the story, so it cannot show that the NLU finds them: these tests parse the real text.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.nlu.second_request import ENTITY
from bot.policies import UpsetCustomerPolicy


@pytest.fixture(scope="module")
def agent(trained_model: Path) -> Agent:
    return Agent.load(str(trained_model))


def parse(agent: Agent, text: str) -> dict[str, Any]:
    return asyncio.run(agent.parse_message(text))


def also_asked(result: dict[str, Any]) -> list[str]:
    return [e["value"] for e in result["entities"] if e["entity"] == ENTITY]


def test_the_refund_in_a_connectivity_message_is_the_second_request(agent: Agent) -> None:
    text = "my wifi keeps dropping and honestly should I just return the router for a refund?"
    result = parse(agent, text)
    assert result["intent"]["name"] == "connectivity_issue"
    assert also_asked(result) == ["start_return"]
    assert "clauses" not in result


@pytest.mark.parametrize(
    "text",
    [
        "my wifi keeps dropping out",
        "I want to return my order. It arrived broken.",
        "thanks for the help. btw you were really quick",
        "where is my order? It was supposed to arrive on Monday.",
    ],
)
def test_one_request_gets_no_second(agent: Agent, text: str) -> None:
    assert also_asked(parse(agent, text)) == []


def test_three_angry_emoji_reach_a_person(agent: Agent) -> None:
    text = "😡😡😡"
    result = parse(agent, text)
    message = UserUttered(text, result["intent"], result["entities"], result)
    tracker = DialogueStateTracker.from_events("emoji", [ActionExecuted(ACTION_LISTEN_NAME), message])
    # UpsetCustomerPolicy predicts action_handoff exactly when this holds (bot/policies.py).
    assert UpsetCustomerPolicy._should_hand_off(tracker), result.get("sentiment")


def test_a_thumbs_up_is_thanks_or_yes(agent: Agent) -> None:
    result = parse(agent, "👍")
    assert result["intent"]["name"] in {"thank", "affirm"}, result["intent_ranking"][:3]


def _angry_yes_after(action: str | None) -> DialogueStateTracker:
    text = "yes!!! 😡😡😡"
    intent = {"name": "affirm", "confidence": 0.95}
    parse_data = {"text": text, "intent": intent, "entities": [], "sentiment": {"anger": 0.875}}
    before = [ActionExecuted(action)] if action else []
    return DialogueStateTracker.from_events(
        "yes", [*before, ActionExecuted(ACTION_LISTEN_NAME), UserUttered(text, intent, [], parse_data)]
    )


def test_an_angry_yes_is_left_to_the_rules_only_when_it_accepts_a_person() -> None:
    assert not UpsetCustomerPolicy._should_hand_off(_angry_yes_after("utter_offer_human"))  # rules hand off
    assert UpsetCustomerPolicy._should_hand_off(_angry_yes_after("troubleshoot_form"))
    assert UpsetCustomerPolicy._should_hand_off(_angry_yes_after(None))
