"""TF-IDF word and character n-grams of the whole message as Rasa sparse sentence features.

Why next to the sentence embeddings: the frozen MiniLM encoder captures meaning but
blurs the exact words that separate close intents ("card not arrived" vs "card not
working", product names, "refund" vs "return"); n-grams keep them. On Banking77 the
embeddings alone give 93.2 % accuracy, TF-IDF n-grams alone 91 %, both together in one
logistic regression above 94 % (bench/README.md). Fitting takes a second and the
vocabularies are saved as JSON (no pickles in the model archive).

Sentence-level only (one row per message), for ``LinearIntentClassifier``.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.nlu.clauses import clause_messages
from bot.trained_state import load_json, save_json

logger = logging.getLogger(__name__)

STATE_FILE = "ngram_vocabularies.json"


def _vectorizers(config: dict[str, Any]) -> dict[str, TfidfVectorizer]:
    word_low, word_high = config["word_ngrams"]
    char_low, char_high = config["char_ngrams"]
    return {
        "words": TfidfVectorizer(
            ngram_range=(word_low, word_high),
            sublinear_tf=True,
            lowercase=True,
            min_df=int(config["word_min_df"]),
        ),
        "chars": TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(char_low, char_high),
            sublinear_tf=True,
            lowercase=True,
            min_df=int(config["char_min_df"]),
        ),
    }


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class NgramFeaturizer(SparseFeaturizer, GraphComponent):
    """One TF-IDF row (word + char n-grams, each L2-normalised, times ``weight``) per message."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **SparseFeaturizer.get_default_config(),
            "word_ngrams": [1, 2],
            "word_min_df": 2,  # in how many examples a word n-gram must appear to count
            "char_ngrams": [2, 5],
            "char_min_df": 2,
            # How much the n-grams count next to the unit-length sentence embedding.
            "weight": 0.8,
            # With fewer examples per intent (the median) than this, n-grams learnt from a
            # handful of sentences add noise: ``few_shot_weight`` is used instead. Measured on
            # Banking77 (bench/explore_fewshot.py, validation split of train.csv): at 5 per
            # intent weight 0.8 costs 4 points, at 10 per intent 1.2 points; from 20 up 0.6-0.8
            # is best.
            "few_shot_below": 20,
            "few_shot_weight": 0.0,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn"]

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        for key in ("word_ngrams", "char_ngrams"):
            value = config.get(key)
            if not (isinstance(value, list) and len(value) == 2 and 1 <= int(value[0]) <= int(value[1])):
                raise InvalidConfigException(f"NgramFeaturizer: {key} must be [low, high], e.g. [1, 2]")
        if float(config.get("weight", 1.0)) <= 0:
            raise InvalidConfigException("NgramFeaturizer: weight must be above 0")
        if float(config.get("few_shot_weight", 0.0)) < 0:
            raise InvalidConfigException("NgramFeaturizer: few_shot_weight must be 0 or more")

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> NgramFeaturizer:
        config = {**cls.get_default_config(), **config}
        cls.validate_config(config)
        return cls(config, execution_context.node_name, model_storage, resource)

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage,
        resource: Resource,
        vectorizers: dict[str, TfidfVectorizer] | None = None,
        weight: float | None = None,
    ) -> None:
        super().__init__(name, config)
        self._model_storage = model_storage
        self._resource = resource
        self._vectorizers = vectorizers
        self._weight = float(config["weight"]) if weight is None else weight

    def _weight_for(self, training_data: TrainingData) -> float:
        """``weight``, or ``few_shot_weight`` when the median intent has few examples."""
        per_intent = Counter(m.get(INTENT) for m in training_data.intent_examples if m.get(INTENT))
        median = float(np.median(list(per_intent.values()))) if per_intent else 0.0
        if median < float(self._config["few_shot_below"]):
            logger.info("n-grams: %.0f examples per intent (median): few-shot weight", median)
            return float(self._config["few_shot_weight"])
        return float(self._config["weight"])

    def train(self, training_data: TrainingData) -> Resource:
        texts = [m.get(TEXT) for m in training_data.training_examples if m.get(TEXT)]
        vectorizers = _vectorizers(self._config)
        for vectorizer in vectorizers.values():
            vectorizer.fit(texts)
        self._vectorizers = vectorizers
        self._weight = self._weight_for(training_data)
        state: dict[str, Any] = {
            kind: {
                "vocabulary": {term: int(index) for term, index in v.vocabulary_.items()},
                "idf": v.idf_.tolist(),
            }
            for kind, v in vectorizers.items()
        }
        state["weight"] = self._weight
        save_json(self._model_storage, self._resource, STATE_FILE, state)
        logger.info("n-gram vocabularies: %s", {k: len(v.vocabulary_) for k, v in vectorizers.items()})
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> NgramFeaturizer:
        config = {**cls.get_default_config(), **config}
        state = load_json(model_storage, resource, STATE_FILE)
        vectorizers = _vectorizers(config)
        for kind, vectorizer in vectorizers.items():
            vectorizer.set_params(vocabulary=state[kind]["vocabulary"])
            vectorizer.idf_ = np.asarray(state[kind]["idf"], dtype=np.float64)
        weight = float(state.get("weight", config["weight"]))
        return cls(config, execution_context.node_name, model_storage, resource, vectorizers, weight)

    def features(self, texts: list[str]) -> scipy.sparse.csr_matrix:
        """One row per text: [words | chars], each part unit length, times the trained weight."""
        if self._vectorizers is None:
            raise RuntimeError("NgramFeaturizer used before training")
        parts = [v.transform(texts) for v in self._vectorizers.values()]
        scale = self._weight / np.sqrt(len(parts))
        return (scipy.sparse.hstack(parts).tocsr() * scale).astype(np.float32)

    def process(self, messages: list[Message]) -> list[Message]:
        """Inference: each message and the clauses of one with several (bot/nlu/clauses.py)."""
        self._add_features([*messages, *clause_messages(messages)])
        return messages

    def _add_features(self, messages: list[Message]) -> None:
        with_text = [m for m in messages if m.get(TEXT)]
        if with_text and self._vectorizers is not None:
            rows = self.features([m.get(TEXT) for m in with_text])
            for index, message in enumerate(with_text):
                self.add_features_to_message(
                    sequence=None, sentence=rows[index].tocoo(), attribute=TEXT, message=message
                )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._add_features(training_data.training_examples)
        return training_data
