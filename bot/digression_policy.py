"""Dialogue policy: a question in the middle of a flow is answered, then the flow picks up again.

Why: in a form ("Which order is it?") a customer often asks something else first ("what
are your opening hours?"). Rasa rejects the form for that message and the question's own
rule answers it, but then the bot just listens: the customer no longer knows the bot still
waits for an order number. Rasa's remedy is one rule per form *and* per question (6 forms ×
10 questions here), which a support lead would have to keep in step by hand.

This policy does it for every form at once: when the message was one of the plain questions
listed in config.yml (``questions``: intents answered by a single response) and the bot has
just answered it while a form is still active, it says ``utter_back_to_flow`` ("Now, back to
where we were:") and runs the form again, which re-asks its question (Rasa does not validate
an interrupted form's last message, so the question is not taken for the answer).
Priority 7: above RulePolicy (4), which would listen instead, and SurveyAnswerPolicy (6),
whose turns (a survey waits, the bot just listened) this policy never claims.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rule_policy_base import DecidingPolicy

RESUME_ACTION = "utter_back_to_flow"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class DigressionPolicy(DecidingPolicy):
    """After the answer to a question asked in the middle of a form: the reminder, then the form."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": 7, "questions": []}

    def choose(self, tracker: DialogueStateTracker) -> str | None:
        intent = (tracker.latest_message.intent or {}).get("name") if tracker.latest_message else None
        questions = frozenset(self.config["questions"])
        return next_action(tracker.active_loop_name, intent, _actions_since_user(tracker), questions)


def _actions_since_user(tracker: DialogueStateTracker) -> list[str]:
    """The actions the bot ran since the customer's latest message, oldest first."""
    actions: list[str] = []
    for event in reversed(tracker.applied_events()):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, ActionExecuted) and event.action_name:
            actions.append(event.action_name)
    return list(reversed(actions))


def next_action(
    loop: str | None, intent: str | None, actions: list[str], questions: frozenset[str]
) -> str | None:
    """The action to predict, or None to abstain (pure, tested on its own).

    ``actions``: what ran since the message. The form's own rejected run leaves no action
    behind, so a digression looks like ``[utter_answer]``, then ``[utter_answer, RESUME]``.
    """
    if not loop or intent not in questions or not actions:
        return None
    answered = [a for a in actions if a not in (ACTION_LISTEN_NAME, loop)]
    if len(answered) == 1 and actions[-1] == answered[0]:
        return RESUME_ACTION
    if actions[-1] == RESUME_ACTION:
        return loop
    return None
