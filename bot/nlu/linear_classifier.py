"""Rasa's logistic-regression intent classifier with its regularisation exposed.

Rasa 3.6 fixes ``C=1``, which underfits unit-length sentence embeddings (held-out
accuracy on our data: 90 % at C=1, 93 % at C=20, 94 % at C=50). Everything else — training,
persistence, intent ranking — is Rasa's own implementation.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearIntentClassifier(LogisticRegressionClassifier):
    """Logistic regression over sentence features with a configurable ``C``."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "C": 50.0}

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage,
        resource: Resource,
    ) -> None:
        config = {**self.get_default_config(), **config}
        super().__init__(config, name, model_storage, resource)
        self.clf.set_params(C=float(config["C"]))
