"""Which messages read as a question asked in passing (actions/digressions.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from actions.digressions import is_digression, reads_as_question
from tests.support import ROOT


@pytest.mark.parametrize(
    "text",
    [
        "how long does the refund take?",
        "what's your return policy",
        "whats the return window",
        "hang on, do you ship to canada",
        "btw what are your opening hours",
        "can I pay with paypal",
        "is there a warranty on it",
        "¿cuánto tarda el reembolso?",
        "cuanto tarda el reembolso",
        "por qué no tengo mi reembolso",
        "wie lange dauert die Erstattung",
        "gibt es eine Garantie",
        "kann ich mit PayPal zahlen",
    ],
)
def test_questions_read_as_questions(text: str) -> None:
    assert reads_as_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "not compatible with my alexa",
        "does not work with homekit",
        "doesn't support apple homekit",
        "delivery took forever",
        "it stopped working after a week, the warranty is useless",
        "it's for privacy reasons",
        "cuando lo enchufo no enciende",
        "no es compatible con mi router",
        "ist kaputt angekommen",
        "funktioniert nicht mit Alexa",
    ],
)
def test_reasons_do_not_read_as_questions(text: str) -> None:
    assert not reads_as_question(text)


def message(text: str, intent: str, confidence: float) -> dict:
    return {"text": text, "intent": {"name": intent, "confidence": confidence}}


def test_a_digression_is_a_confident_question_intent_phrased_as_a_question(tmp_path: Path) -> None:
    assert is_digression(message("how long does the refund take?", "refund_status", 0.98))
    assert is_digression(message("what's your return policy?", "return_policy", 0.99))
    assert not is_digression(message("not compatible with my alexa", "device_compatibility", 1.0))
    assert not is_digression(message("why is it so loud?", "complaint", 0.9))  # not a question we answer
    assert not is_digression(message("what's your return policy?", "return_policy", 0.2))  # below 0.35
    # the intents and the threshold come from config.yml, not from a second list
    config = tmp_path / "config.yml"
    config.write_text(
        "pipeline:\n  - name: FallbackClassifier\n    threshold: 0.995\n"
        "policies:\n  - name: bot.digression_policy.DigressionPolicy\n    questions: [warranty]\n",
        encoding="utf-8",
    )
    assert not is_digression(message("what's your return policy?", "return_policy", 0.999), config)
    assert not is_digression(message("is there a warranty?", "warranty", 0.99), config)
    assert is_digression(message("is there a warranty?", "warranty", 0.999), config)


def test_refund_questions_are_answered_and_resumed_after_like_the_others() -> None:
    """refund_status is one of DigressionPolicy's questions: the form asks again after the answer."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    (policy,) = [p for p in config["policies"] if p["name"].endswith("DigressionPolicy")]
    assert {"refund_status", "return_policy"} <= set(policy["questions"])
