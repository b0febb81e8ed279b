"""Dialogue policy that brings in a person when a customer is clearly upset.

Rules cannot look at sentiment, and an angry customer should not first be walked through
a form or a canned apology. ``SentimentAnalyzer`` (bot/nlu/sentiment.py) puts an anger
score on every message; this policy predicts ``action_handoff`` when that score reaches
``handoff.upset_threshold`` in business.yml and the ``upset_customer`` trigger is on.
Both are read at prediction time, so a support lead can change them without retraining.
It is the one anger threshold: the analyzer labels a message "angry" at the same value, so
the mood on the agent's card always matches the reason for the handoff.

Priority 5 sits just above RulePolicy (4): on a tie at confidence 1.0 the handoff wins.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.business import load_business_settings
from bot.rule_policy_base import DecidingPolicy
from bot.upset import LEFT_TO_RULES, anger_of

logger = logging.getLogger(__name__)

HANDOFF_ACTION = "action_handoff"
# A yes is left to the rules only when it accepts the offer of a person (they hand off): an
# emoji-only "😡😡😡" is classified as affirm (the sentence encoder sees no words), and anger
# answering any other question ("Did that fix it?") must still reach a person.
PERSON_OFFERS = frozenset({"utter_offer_human"})


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class UpsetCustomerPolicy(DecidingPolicy):
    """Predict the handoff for a clearly angry message; abstain otherwise."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": 5}

    def choose(self, tracker: DialogueStateTracker) -> str | None:
        return HANDOFF_ACTION if self._should_hand_off(tracker) else None

    @staticmethod
    def _should_hand_off(tracker: DialogueStateTracker) -> bool:
        if tracker.latest_action_name != ACTION_LISTEN_NAME or tracker.latest_message is None:
            return False
        parse_data = tracker.latest_message.parse_data or {}
        intent = (parse_data.get("intent") or {}).get("name")
        if intent in LEFT_TO_RULES and (intent != "affirm" or _answers(tracker) in PERSON_OFFERS):
            return False
        handoff = load_business_settings().handoff
        anger = anger_of(parse_data)
        if handoff.triggers.upset_customer and anger >= handoff.upset_threshold:
            logger.info("customer %s is upset (anger %.2f): handing off", tracker.sender_id, anger)
            return True
        return False


def _answers(tracker: DialogueStateTracker) -> str | None:
    """The bot's last action before the customer's latest message (what the message answers)."""
    seen_message = False
    for event in reversed(tracker.applied_events()):
        if isinstance(event, UserUttered):
            if seen_message:
                return None
            seen_message = True
        elif seen_message and isinstance(event, ActionExecuted) and event.action_name != ACTION_LISTEN_NAME:
            return event.action_name
    return None
