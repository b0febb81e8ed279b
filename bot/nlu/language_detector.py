"""The language of each message, for answers in the customer's language (Rasa NLU component).

A clear detection (bot/nlu/language_detection.py) adds the entity ``language`` (ISO 639-1),
which fills the slot ``language``; domain.yml's responses have variants per language on that
slot (Rasa's conditional response variations), so the same rules and actions answer in
Spanish or German. A message that says nothing clear ("ok", "HL-100982", "👍") adds no
entity and the conversation keeps its language.

A language the business does not support (``business.languages`` in business.yml, read when
a message is parsed, so editing it needs a restart, not retraining) turns the intent into
``other_language``: the bot says, in that language, that help is in English or through a
person, and offers the handoff (nlu_data/rules.yml). It runs after the classifier, the
fallback and the help-center search, so it overrules them: their guesses about a message
in another language are not evidence (its words were never seen in training).

Thresholds: switching to a supported language needs ``supported_confidence`` (0.7); calling a
message unsupported needs ``other_confidence`` (0.9), because a wrong "I only speak English"
to an English customer costs more than a missed switch, and at least three words: one
German "jawoll" was taken for another language at 0.93 on the held-out set.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.business import load_business_settings
from bot.nlu.language_detection import detect

ENTITY = "language"
OTHER_LANGUAGE_INTENT = "other_language"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageDetector(GraphComponent):
    """Adds the ``language`` entity; turns a message in an unsupported language into ``other_language``."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"supported_confidence": 0.7, "other_confidence": 0.9}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        return cls(config)

    def __init__(self, config: dict[str, Any]) -> None:
        self._supported_confidence = float(config["supported_confidence"])
        self._other_confidence = float(config["other_confidence"])

    def process(self, messages: list[Message]) -> list[Message]:
        supported = load_business_settings().languages
        for message in messages:
            text = str(message.get(TEXT) or "")
            if text.startswith("/"):  # a button payload, not words
                continue
            found = detect(text, min(self._supported_confidence, self._other_confidence))
            if found is None:
                continue
            if found.language in supported:
                if found.confidence >= self._supported_confidence:
                    self._add_entity(message, found.language, found.confidence)
            elif found.confidence >= self._other_confidence and found.words >= 3:
                self._add_entity(message, found.language, found.confidence)
                self._other_language(message, found.confidence)
        return messages

    @staticmethod
    def _add_entity(message: Message, language: str, confidence: float) -> None:
        entity = {
            "entity": ENTITY,
            "value": language,
            "start": 0,
            "end": len(str(message.get(TEXT) or "")),
            "confidence": round(confidence, 3),
            "extractor": "LanguageDetector",
        }
        message.set(ENTITIES, [*(message.get(ENTITIES) or []), entity], add_to_output=True)

    @staticmethod
    def _other_language(message: Message, confidence: float) -> None:
        chosen = {"name": OTHER_LANGUAGE_INTENT, "confidence": round(confidence, 3)}
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != OTHER_LANGUAGE_INTENT]
        message.set(INTENT, chosen, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [chosen, *ranking], add_to_output=True)
