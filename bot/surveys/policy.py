"""Dialogue policy: while a survey waits for its answer, the next message goes to ``action_survey_answer``.

Rules cannot do this: the answer is free text ("9", "meh", "⭐⭐⭐⭐") whose NLU intent is
anything at all, and the survey slot does not influence the conversation (so trained
policies ignore it and a survey never changes what the bot learnt). The action reads the
answer; when the message was not an answer (the customer changed the subject, or the
survey expired) it reverts itself and clears the slot, and this policy then abstains, so
Rasa's own policies answer the message as a normal question in the same turn.

After ``action_offer_survey`` and ``action_survey_answer`` the bot listens. Priority 6:
above UpsetCustomerPolicy (5) and RulePolicy (4), which win ties at confidence 1.0 otherwise.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rule_policy_base import DecidingPolicy
from bot.surveys.conversation import OFFER_ACTION, SURVEY_ANSWER_ACTION, SURVEY_SLOT


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class SurveyAnswerPolicy(DecidingPolicy):
    """Predict the survey answer action while a survey is pending; listen after the survey actions."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": 6}

    def choose(self, tracker: DialogueStateTracker) -> str | None:
        return next_survey_action(tracker.latest_action_name, tracker.get_slot(SURVEY_SLOT))


def next_survey_action(latest_action: str | None, pending: Any) -> str | None:
    """The action this policy predicts, or None to abstain (pure, tested on its own).

    Expiry is the action's business (it marks the survey ignored and reverts itself), so an
    expired survey is closed in the table instead of staying "asked" for ever.
    """
    if latest_action in (OFFER_ACTION, SURVEY_ANSWER_ACTION):
        return ACTION_LISTEN_NAME
    if latest_action == ACTION_LISTEN_NAME and isinstance(pending, dict) and pending.get("key"):
        return SURVEY_ANSWER_ACTION
    return None
