"""The n-gram weight adapts to how many examples each intent has (bot/nlu/ngram_featurizer.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.ngram_featurizer import NgramFeaturizer

TEXTS = ["where is my parcel", "my order has not arrived", "track my delivery please", "parcel late again"]


def training_data(per_intent: int) -> TrainingData:
    examples = [
        Message(data={"text": f"{TEXTS[i % len(TEXTS)]} number {i}", "intent": intent})
        for intent in ("order_status", "start_return")
        for i in range(per_intent)
    ]
    return TrainingData(training_examples=examples)


def trained(tmp_path: Path, per_intent: int) -> NgramFeaturizer:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("ngrams")
    context = ExecutionContext(GraphSchema({}), "test")
    featurizer = NgramFeaturizer.create({"word_min_df": 1, "char_min_df": 1}, storage, resource, context)
    featurizer.train(training_data(per_intent))
    return NgramFeaturizer.load({"word_min_df": 1, "char_min_df": 1}, storage, resource, context)


def test_few_examples_per_intent_switch_the_ngrams_off(tmp_path: Path) -> None:
    loaded = trained(tmp_path, per_intent=10)
    assert not loaded.features(["where is my parcel"]).toarray().any()  # the trained weight was saved: 0


def test_enough_examples_per_intent_keep_the_configured_weight(tmp_path: Path) -> None:
    loaded = trained(tmp_path, per_intent=25)
    row = loaded.features(["where is my parcel"]).toarray()[0]
    # Two unit-length parts (words, chars) scaled by 0.8 / sqrt(2): the row's length is 0.8.
    assert np.isclose(np.linalg.norm(row), 0.8, atol=1e-4)
