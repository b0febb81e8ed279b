"""The help center in the NLU pipeline: the best article passage for every message.

Why in the NLU pipeline and not in an action: the message's MiniLM embedding is already
computed here (SentenceEmbeddingFeaturizer), so a search costs a dot product over a few
hundred rows and a BM25 pass (well under a millisecond), and the action server needs no
second copy of the encoder (~90 MB and ~8 ms per message).

Every parse gets ``knowledge`` (the best passage, its short answer, link and score). When no
support intent was confidently recognised (``answer_when``: ``nlu_fallback`` or
``out_of_scope``) and the score reaches ``threshold``, the intent becomes ``knowledge_question``
and the rule in nlu_data/rules.yml answers from the article. Intent flows keep priority: a
confident intent is never replaced.

The index is built when the model is trained, from the Markdown files in ``folder``
(knowledge/ by default); :meth:`fingerprint_addon` hashes them, so adding or editing an
article retrains this component (and bot/training.py's cache key covers them too).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.knowledge import KnowledgeIndex, content_hash, load_articles, short_answer
from bot.knowledge.units import build_index

logger = logging.getLogger(__name__)

KNOWLEDGE_INTENT = "knowledge_question"
KNOWLEDGE_KEY = "knowledge"


def knowledge_folder(config: dict[str, Any]) -> Path:
    """The articles' folder: ``folder`` in config.yml, relative to the project root."""
    from bot.settings import project_root

    folder = Path(str(config["folder"]))
    return folder if folder.is_absolute() else project_root() / folder


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class KnowledgeRetriever(GraphComponent):
    """Finds the help-center passage for each message; answers with it when no intent is sure."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "folder": "knowledge",
            "model": "all-MiniLM-L6-v2",  # must be the SentenceEmbeddingFeaturizer's model
            # All four fitted by bench/knowledge.py (bench/README.md, "knowledge.py").
            "threshold": 0.5,
            "weight": 0.5,
            "saturation": 20.0,
            "article_weight": 0.75,
            "classifier_weight": 0.1,
            "answer_when": ["nlu_fallback", "out_of_scope"],
        }

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if not 0.0 < float(config["threshold"]) <= 1.0:
            raise InvalidConfigException("KnowledgeRetriever: threshold must be in (0, 1]")
        if not 0.0 <= float(config["weight"]) <= 1.0:
            raise InvalidConfigException("KnowledgeRetriever: weight must be between 0 and 1")
        for name in ("article_weight", "classifier_weight"):
            if float(config[name]) < 0.0:
                raise InvalidConfigException(f"KnowledgeRetriever: {name} must be 0 or more")

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The articles are not graph inputs: their content decides whether to retrain."""
        folder = knowledge_folder({**cls.get_default_config(), **config})
        return content_hash(folder) if folder.is_dir() else "no-knowledge-folder"

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> KnowledgeRetriever:
        config = {**cls.get_default_config(), **config}
        cls.validate_config(config)
        return cls(config, model_storage, resource)

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        index: KnowledgeIndex | None = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._index = index
        # Read once, not per message: process() runs on every customer message.
        self._threshold = float(config["threshold"])
        self._answer_when = frozenset(config["answer_when"])

    def train(self, training_data: TrainingData) -> Resource:
        from bot.nlu.sentence_featurizer import embed_texts

        folder = knowledge_folder(self._config)
        articles = load_articles(folder) if folder.is_dir() else []
        if not articles:
            logger.warning("KnowledgeRetriever: no articles in %s; the bot answers from intents only", folder)

        def embed(texts: list[str]) -> np.ndarray:
            return embed_texts(str(self._config["model"]), texts)

        weights = ("weight", "saturation", "article_weight", "classifier_weight")
        self._index = build_index(articles, embed, *(float(self._config[name]) for name in weights))
        logger.info("KnowledgeRetriever: %d articles, %d index rows", len(articles), len(self._index))
        with self._model_storage.write_to(self._resource) as directory:
            self._index.save(Path(directory))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> KnowledgeRetriever:
        config = {**cls.get_default_config(), **config}
        try:
            with model_storage.read_from(resource) as directory:
                index = KnowledgeIndex.load(Path(directory))
        except (ValueError, FileNotFoundError):
            logger.warning("KnowledgeRetriever: no trained index found; retrain to answer from articles")
            index = None
        return cls(config, model_storage, resource, index)

    def process(self, messages: list[Message]) -> list[Message]:
        if self._index is None or not len(self._index):
            return messages
        for message in messages:
            dense = message.get_dense_features(TEXT)[1]
            if not message.get(TEXT) or dense is None:
                continue
            hits = self._index.search(message.get(TEXT), dense.features[0], top_k=1)
            if hits:
                self._use(message, hits[0])
        return messages

    def _use(self, message: Message, hit: Any) -> None:
        intent = message.get(INTENT) or {}
        answers = hit.score >= self._threshold and intent.get("name") in self._answer_when
        found = {
            "slug": hit.passage.slug,
            "title": hit.passage.title,
            "url": hit.passage.url,
            "heading": hit.passage.heading,
            "answer": short_answer(hit.passage),
            "score": round(hit.score, 4),
            "answered": answers,
        }
        message.set(KNOWLEDGE_KEY, found, add_to_output=True)
        if answers:
            chosen = {"name": KNOWLEDGE_INTENT, "confidence": float(hit.score)}
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != KNOWLEDGE_INTENT]
            message.set(INTENT, chosen, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [chosen, *ranking], add_to_output=True)
