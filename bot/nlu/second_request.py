"""A second request in the same message: "my wifi keeps dropping, and should I just return it?".

Why: the classifier names one intent per message, so the bot handles the first request and
the second one is silently lost. The featurizers and ``LinearIntentClassifier`` also score
each clause of a message that has more than one (bot/nlu/clauses.py); this component, after
``FallbackClassifier`` in config.yml, looks at those clauses. When one is confidently
(``threshold``) an intent listed in ``offer`` other than the message's own, it adds the
entity ``also_asked`` (value: that intent, span: the clause), and ``SecondRequestPolicy``
(bot/second_request_policy.py) offers it once the first request's flow is done.

Only the intents in ``offer`` are ever recorded (flows worth offering: a return, an order
lookup ...), so small talk, thanks or a plain question in a second clause never produce an
offer. A message that was not understood (``nlu_fallback``) gets none either: the bot asks
to rephrase it as a whole.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import ENTITIES, INTENT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.clauses import CLAUSES, SPAN

ENTITY = "also_asked"
NOT_UNDERSTOOD = "nlu_fallback"


# A ranked clause: (its top intent, that intent's confidence, (start, end) in the message).
Ranked = tuple[str, float, tuple[int, int]]


def second_request(
    intent: str | None, clauses: list[Ranked], offers: frozenset[str], threshold: float
) -> Ranked | None:
    """The clause to offer: (intent, confidence, span) of the most confident one, or None.

    Pure: ``intent`` is the message's own; ``clauses`` the top intent of each clause.
    """
    if not intent or intent == NOT_UNDERSTOOD:
        return None
    candidates = [c for c in clauses if c[0] in offers and c[0] != intent and c[1] >= threshold]
    return max(candidates, key=lambda c: c[1], default=None)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class SecondRequestDetector(GraphComponent):
    """Adds the entity ``also_asked`` for a confident second request in another clause."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # offer: intent -> the response that offers it (read by SecondRequestPolicy too).
        return {"threshold": 0.8, "offer": {}}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SecondRequestDetector:
        config = {**cls.get_default_config(), **config}
        cls.validate_config(config)
        return cls(config)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if not isinstance(config.get("offer"), dict):
            raise InvalidConfigException("SecondRequestDetector: offer must map intents to responses")
        if not 0.0 < float(config.get("threshold", 0.8)) <= 1.0:
            raise InvalidConfigException("SecondRequestDetector: threshold must be in (0, 1]")

    def __init__(self, config: dict[str, Any]) -> None:
        self._offers = frozenset(config["offer"])
        self._threshold = float(config["threshold"])

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            clauses = message.data.pop(CLAUSES, None) or []  # done with them: not kept in the tracker
            ranked = [
                (c.get(INTENT)["name"], float(c.get(INTENT)["confidence"]), c.get(SPAN))
                for c in clauses
                if c.get(INTENT)
            ]
            intent = (message.get(INTENT) or {}).get("name")
            found = second_request(intent, ranked, self._offers, self._threshold)
            if found is None:
                continue
            asked, confidence, (start, end) = found
            entity = {
                "entity": ENTITY,
                "value": asked,
                "start": start,
                "end": end,
                "confidence": confidence,
                "extractor": self.__class__.__name__,
            }
            message.set(ENTITIES, [*(message.get(ENTITIES) or []), entity], add_to_output=True)
        return messages
