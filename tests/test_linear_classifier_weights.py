"""LinearIntentClassifier's class weights by intent name (config.yml: {out_of_scope: 0.35})."""

from __future__ import annotations

import pytest
from rasa.shared.exceptions import InvalidConfigException

from bot.nlu.linear_classifier import LinearIntentClassifier


def classifier(class_weight: object) -> LinearIntentClassifier:
    config = {**LinearIntentClassifier.get_default_config(), "class_weight": class_weight}
    return LinearIntentClassifier(config, model_storage=None, resource=None)  # type: ignore[arg-type]


def test_weights_by_intent_name_become_weights_by_label_index() -> None:
    model = classifier({"out_of_scope": 0.35, "not_trained": 2.0})
    model._intents = ["greet", "order_status", "out_of_scope"]
    # An intent the training data lacks is ignored, not an error (a lead may drop its examples).
    assert model._class_weight() == {2: 0.35}
    assert model._svm().class_weight == {2: 0.35}


def test_other_class_weight_settings_pass_through() -> None:
    assert classifier("balanced")._class_weight() == "balanced"
    assert classifier(None)._class_weight() is None


def test_a_weight_of_zero_or_less_is_refused_with_the_setting_named() -> None:
    with pytest.raises(InvalidConfigException, match="class_weight"):
        classifier({"out_of_scope": 0})
