"""Not one known word: a message like "blorf zzzq wibble" is not understood, whatever the classifier says.

Why: since intent ``out_of_scope`` learnt ~400 messages about other businesses
(nlu_data/nlu/out_of_domain.yml) and the fallback threshold fell to 0.33, keyboard mashing
lands on ``out_of_scope`` or ``inform`` with some confidence, and the customer is told "that's
outside what I can help with" instead of being asked to say it another way. A message whose
words were never seen in training carries no evidence for any intent, so this component sets
the top intent's confidence to 0 and ``FallbackClassifier`` (after it in config.yml) turns it
into ``nlu_fallback``: the bot asks to rephrase, then offers a person.

Only words of two or more letters count: emoji, numbers and order numbers are left to the
other components (an emoji-only message is not mashing).
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.trained_state import load_json, save_json

VOCABULARY_FILE = "known_words.json"
WORD = re.compile(r"[^\W\d_]{2,}")


def words(text: str) -> set[str]:
    """Lower-cased words of two or more letters."""
    return {w.lower() for w in WORD.findall(text or "")}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class UnknownWordsGuard(GraphComponent):
    """Zero confidence for a message none of whose words appear in the training examples."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UnknownWordsGuard:
        return cls(model_storage, resource)

    def __init__(
        self, model_storage: ModelStorage, resource: Resource, known: set[str] | None = None
    ) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self._known = known or set()

    def train(self, training_data: TrainingData) -> Resource:
        self._known = set().union(*(words(m.get(TEXT)) for m in training_data.training_examples))
        save_json(self._model_storage, self._resource, VOCABULARY_FILE, sorted(self._known))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> UnknownWordsGuard:
        # Untrained: an empty vocabulary never overrules the classifier.
        known = set(load_json(model_storage, resource, VOCABULARY_FILE, default=[]))
        return cls(model_storage, resource, known)

    def process(self, messages: list[Message]) -> list[Message]:
        if not self._known:
            return messages
        for message in messages:
            found = words(message.get(TEXT))
            intent = message.get(INTENT)
            if not found or not intent or found & self._known or message.get("entities"):
                continue
            message.set(INTENT, {**intent, "confidence": 0.0}, add_to_output=True)
            ranking = message.get(INTENT_RANKING_KEY) or []
            message.set(INTENT_RANKING_KEY, [{**r, "confidence": 0.0} for r in ranking], add_to_output=True)
        return messages
