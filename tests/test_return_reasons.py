"""The return reason codes are defined once, and "I don't need it anymore" reads as a reason, not a stop."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from actions.return_form import REASON_LABELS
from bot.evaluation import load_examples
from bot.return_reasons import REASON_CODES, REASON_FOR_AGENTS, reads_as_not_needed

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "text",
    [
        "I don't need it anymore",
        "i dont need it any more",
        "dont really use them",
        "we no longer need the hub",
        "not needed",
        "ordered it by mistake",
        "ya no lo necesito",
        "lo compré para mi hijo pero ya no lo necesito",
        "no la uso",
        "ya no me hace falta",
        "ich brauche es nicht mehr",
        "ich nutze sie nicht",
        "wird nicht mehr gebraucht",
    ],
)
def test_a_negated_need_for_the_thing_is_a_not_needed_reason(text: str) -> None:
    assert reads_as_not_needed(text)


@pytest.mark.parametrize(
    "text",
    [
        # the stop intent's own examples (conversation_control.yml, languages_*.yml): no object
        "I don't want to do this anymore",
        "i dont want to continue",
        "ya no quiero seguir",
        "ich will nicht mehr weitermachen",
        "never mind",
        # a stop that also gives the reason is still a stop
        "stop, I don't need it anymore",
        "forget it, I dont need it",
        "cancela, ya no lo necesito",
        "vergiss es, ich brauche es nicht",
        # the return itself, not the thing
        "I don't want this return anymore",
        "i dont want the refund, forget about it",
        # other reasons
        "it flickers all the time",
        "not compatible with my alexa",
    ],
)
def test_the_conversation_itself_or_another_reason_is_not(text: str) -> None:
    assert not reads_as_not_needed(text)


def test_no_stop_training_example_reads_as_a_not_needed_reason() -> None:
    """Else a customer's "stop" in the return form would be taken as the reason (en/es/de)."""
    examples = [e.plain_text for e in load_examples() if e.intent == "stop"]
    assert len(examples) > 40 and not [text for text in examples if reads_as_not_needed(text)]


def test_every_code_has_the_customers_wording_per_language_and_the_agents() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    for code in REASON_CODES:
        variants = domain["responses"][f"utter_return_reason_{code}"]
        conditions = [c for v in variants for c in v.get("condition") or ()]
        languages = {c["value"] for c in conditions if c["name"] == "language"}
        assert {"es", "de"} <= languages, code
    assert set(REASON_FOR_AGENTS) == set(REASON_CODES) == set(REASON_LABELS)
    for variant in domain["responses"]["utter_ask_return_reason"]:  # the buttons offer every code
        payloads = [button["payload"] for button in variant["buttons"]]
        assert payloads == [f'/inform{{"return_reason": "{code}"}}' for code in REASON_CODES]
