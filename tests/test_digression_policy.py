"""A question in the middle of a flow: answered, reminded, asked again; nothing else is touched."""

from __future__ import annotations

import pytest

from bot.digression_policy import RESUME_ACTION, next_action

QUESTIONS = frozenset({"support_hours", "international_shipping"})
FORM = "order_status_form"


def test_after_the_answer_the_reminder_then_the_form_then_nothing() -> None:
    answer = "action_support_hours"
    assert next_action(FORM, "support_hours", [answer], QUESTIONS) == RESUME_ACTION
    assert next_action(FORM, "support_hours", [answer, RESUME_ACTION], QUESTIONS) == FORM
    assert next_action(FORM, "support_hours", [answer, RESUME_ACTION, FORM], QUESTIONS) is None


@pytest.mark.parametrize(
    ("loop", "intent", "actions"),
    [
        (None, "support_hours", ["action_support_hours"]),  # no flow to go back to
        (FORM, "inform", [FORM]),  # the form's own answer
        (FORM, "complaint", ["utter_complaint"]),  # not a plain question: its rule says more
        (FORM, "support_hours", []),  # the bot has not answered yet
        (FORM, "support_hours", ["utter_complaint", "utter_offer_human"]),  # more than one answer
    ],
)
def test_the_policy_abstains_otherwise(loop: str | None, intent: str, actions: list[str]) -> None:
    assert next_action(loop, intent, actions, QUESTIONS) is None
