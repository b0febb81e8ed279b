"""One order-number entity per mention, as Rasa's RegexEntityExtractor reads nlu_data/entities.yml.

Two overlapping entities (``HL-118020`` and ``118020``) made the second, bare spelling the
slot's value and put it on the agent's card; the bare pattern now skips digits that follow
``HL``/``HL-``/``#``.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from rasa.nlu.extractors.regex_entity_extractor import RegexEntityExtractor
from rasa.nlu.utils.pattern_utils import extract_patterns
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from tests.support import ROOT


def order_entities(text: str) -> list[str]:
    patterns = extract_patterns(
        load_data(str(ROOT / "nlu_data" / "entities.yml")), use_lookup_tables=False, use_regexes=True
    )
    extractor = SimpleNamespace(patterns=patterns, case_sensitive=False)  # config.yml: case_sensitive false
    found = RegexEntityExtractor._extract_entities(extractor, Message(data={"text": text}))  # type: ignore[arg-type]
    return [e["value"] for e in found if e["entity"] == "order_number"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("where is HL-118020?", ["HL-118020"]),
        ("order hl118020 please", ["hl118020"]),
        ("it's #118020", ["#118020"]),
        ("118020", ["118020"]),
        ("order HL 118020", ["118020"]),
        ("HL-118020 and HL-104233", ["HL-118020", "HL-104233"]),
        ("call 1-800-555-0142", []),
    ],
)
def test_one_entity_per_mention(text: str, expected: list[str]) -> None:
    assert order_entities(text) == expected
