"""The survey policy's decision and what a survey reads from the tracker (pure parts).

The whole flow in real conversations is in tests/test_survey_conversations.py.
"""

from __future__ import annotations

from typing import Any

import yaml

from bot.surveys.conversation import (
    answered_unresolved,
    bot_helped,
    conversation_key,
    customer_intents,
    is_public_x,
    session_start,
)
from bot.surveys.policy import next_survey_action
from tests.support import ROOT

PENDING = {"key": "wc-1@100", "kind": "csat", "stage": "score", "asked_at": 100.0}


def user(text: str, intent: str, ts: float, **metadata: Any) -> dict[str, Any]:
    return {"event": "user", "text": text, "timestamp": ts, "parse_data": {"intent": {"name": intent}},
            "metadata": metadata}  # fmt: skip


def action(name: str, ts: float) -> dict[str, Any]:
    return {"event": "action", "name": name, "timestamp": ts}


def test_the_policy_sends_the_next_message_to_the_survey_and_listens_after_it() -> None:
    assert next_survey_action("action_listen", PENDING) == "action_survey_answer"
    assert next_survey_action("action_listen", None) is None  # no survey: Rasa's policies decide
    assert next_survey_action("action_offer_survey", PENDING) == "action_listen"
    assert next_survey_action("action_survey_answer", None) == "action_listen"
    assert next_survey_action("utter_goodbye", PENDING) is None


def test_the_policy_is_registered_above_the_upset_customer_policy() -> None:
    from bot.policies import UpsetCustomerPolicy
    from bot.surveys.policy import SurveyAnswerPolicy

    names = [p["name"] for p in yaml.safe_load((ROOT / "config.yml").read_text())["policies"]]
    assert names.index("bot.surveys.policy.SurveyAnswerPolicy") < names.index(
        "bot.policies.UpsetCustomerPolicy"
    )
    assert (
        SurveyAnswerPolicy.get_default_config()["priority"]
        > UpsetCustomerPolicy.get_default_config()["priority"]
    )


def test_the_conversation_is_the_session_and_survey_answers_are_not_questions() -> None:
    events = [
        {"event": "session_started", "timestamp": 50.0},
        {"event": "session_started", "timestamp": 100.9},
        user("where is my order", "order_status", 101),
        action("action_order_status", 102),
        user("thanks", "thank", 103),
        action("utter_you_are_welcome", 104),
        action("action_offer_survey", 105),
        user("5", "inform", 106),
        action("action_survey_answer", 107),
        user("what payment methods?", "payment_methods", 108),  # changed the subject
        action("action_survey_answer", 109),
        {"event": "undo", "timestamp": 109},
        action("utter_payment_methods", 110),
        user("done", "EXTERNAL_handoff_resolved", 111),
    ]
    assert session_start(events) == 100.9
    assert conversation_key("wc-1", events) == "wc-1@100"
    assert customer_intents(events) == ["order_status", "thank", "payment_methods"]
    assert session_start([user("hi", "greet", 7.5)]) == 7.5


def test_what_counts_as_resolved_and_public() -> None:
    assert not bot_helped(["greet", "goodbye"]) and bot_helped(["greet", "delivery_time", "thank"])
    escalated = [
        user("no", "deny", 1),
        {"event": "bot", "metadata": {"utter_action": "utter_troubleshoot_escalate"}},
    ]
    assert answered_unresolved(escalated)
    assert not answered_unresolved([user("thanks", "thank", 1), {"event": "bot", "metadata": {}}])
    assert is_public_x("x-mention-123", [])
    assert is_public_x("1400", [user("hi", "greet", 1, x={"kind": "mention", "tweet_id": "9"})])
    assert not is_public_x("1400", [user("hi", "greet", 1, x={"kind": "dm"})])
