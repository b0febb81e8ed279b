"""Language detection: clear messages are told apart, English is never mistaken, nothing else decides."""

from __future__ import annotations

import re
from pathlib import Path

import numpy
import pytest
import yaml
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.business import BusinessSettingsError, load_business_settings
from bot.handoff.desks.labels import language_label
from bot.nlu import language_detection
from bot.nlu.language_detection import detect, language_text
from bot.nlu.language_detector import LanguageDetector
from tests.support import ROOT
from tests.support.bot import write_business_file

CONFIG = LanguageDetector.get_default_config()
ANNOTATION = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def english_examples() -> list[str]:
    """Every English training example (the other-language files are named languages_*.yml)."""
    texts = []
    for path in sorted((ROOT / "nlu_data" / "nlu").glob("*.yml")):
        if path.name.startswith("languages_"):
            continue
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            for line in (block.get("examples") or "").splitlines():
                text = ANNOTATION.sub(r"\1", line.strip().removeprefix("- "))
                if text:
                    texts.append(text)
    return texts


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("¿Dónde está mi pedido? Lo pedí hace una semana", "es"),
        ("Wo ist meine Bestellung?", "de"),
        ("Ich möchte mit einem Menschen sprechen", "de"),
        ("bonjour, où est ma commande ?", "fr"),
        ("dove è il mio ordine", "it"),
        ("waar is mijn bestelling", "nl"),
        ("where is my order please", "en"),
    ],
)
def test_a_clear_sentence_is_told_apart(text: str, language: str) -> None:
    found = detect(text, 0.7)
    assert found is not None and found.language == language, found


def test_no_english_training_example_is_taken_for_another_language() -> None:
    """The fitted thresholds: a wrong switch answers an English customer in another language."""
    texts = english_examples()
    assert len(texts) > 1000

    def not_english(threshold: float) -> list[tuple[str, str]]:
        found = [(text, detect(text, threshold)) for text in texts]
        return [(text, f.language) for text, f in found if f and f.language != "en"]

    assert not_english(CONFIG["other_confidence"]) == []
    assert len(not_english(CONFIG["supported_confidence"])) <= 2  # and then only to es/de


@pytest.mark.parametrize("text", ["ok", "HL-100982", "👍", "😡😡😡", "@hearthlink", "https://x.co/a", "1234"])
def test_what_is_not_a_sentence_decides_nothing(text: str) -> None:
    assert detect(text, 0.0) is None


def test_order_numbers_links_and_handles_are_removed_before_detection() -> None:
    cleaned = language_text("@hearthlink quiero devolver HL-100982, ver https://t.co/xyz o mail a@b.com 😡")
    assert cleaned == "quiero devolver , ver o mail"


def test_the_detector_runs_on_rasas_numpy_and_keeps_only_its_languages() -> None:
    assert numpy.__version__.startswith("1.")  # py3langid declares numpy >= 2 (requirements/rasa.txt)
    identifier = language_detection._get_identifier()
    assert identifier._full_model is None  # the 97-language model is dropped (~60 MB)
    assert identifier.nb_ptc.shape[1] == len(language_detection.CANDIDATES)


def parsed(text: str, intent: str = "order_status") -> Message:
    message = Message(data={TEXT: text})
    message.set(INTENT, {"name": intent, "confidence": 0.8})
    message.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": 0.8}])
    return message


def run(*messages: Message) -> list[Message]:
    return LanguageDetector(CONFIG).process(list(messages))


def test_a_supported_language_fills_the_slot_and_keeps_the_intent() -> None:
    (message,) = run(parsed("¿Dónde está mi pedido? Lo pedí hace una semana"))
    assert message.get(INTENT)["name"] == "order_status"
    assert [(e["entity"], e["value"]) for e in message.get(ENTITIES)] == [("language", "es")]


def test_an_unsupported_language_becomes_other_language() -> None:
    (message,) = run(parsed("bonjour, où est ma commande ?", "nlu_fallback"))
    assert message.get(INTENT)["name"] == "other_language"
    assert message.get(INTENT_RANKING_KEY)[0]["name"] == "other_language"
    assert message.get(INTENT_RANKING_KEY)[1]["name"] == "nlu_fallback"
    assert [e["value"] for e in message.get(ENTITIES)] == ["fr"]


def test_one_or_two_words_never_make_a_language_unsupported() -> None:
    assert detect("jawoll", 0.9).language == "pl"  # a German "yes" (bench/data/languages.yml)
    (message,) = run(parsed("jawoll", "affirm"))
    assert message.get(INTENT)["name"] == "affirm"


def test_button_payloads_and_unclear_messages_are_left_alone() -> None:
    payload, short = run(parsed('/inform{"order_number": "HL-104233"}'), parsed("ok"))
    assert not payload.get(ENTITIES) and not short.get(ENTITIES)
    assert payload.get(INTENT)["name"] == short.get(INTENT)["name"] == "order_status"


def test_a_business_that_drops_a_language_sends_it_to_other_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    business = write_business_file(tmp_path / "business.yml")
    document = yaml.safe_load(business.read_text(encoding="utf-8"))
    document["business"]["languages"] = ["en"]
    business.write_text(yaml.safe_dump(document), encoding="utf-8")
    monkeypatch.setenv("SUPPORTBOT_BUSINESS_FILE", str(business))
    assert load_business_settings().languages == ("en",)
    (message,) = run(parsed("Wo ist meine Bestellung? Ich warte seit einer Woche", "order_status"))
    assert message.get(INTENT)["name"] == "other_language"


@pytest.mark.parametrize("languages", [["english"], [], ["e1"]])
def test_bad_language_codes_are_refused_with_the_fix(tmp_path: Path, languages: list[str]) -> None:
    business = write_business_file(tmp_path / "business.yml")
    document = yaml.safe_load(business.read_text(encoding="utf-8"))
    document["business"]["languages"] = languages
    business.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(BusinessSettingsError, match="ISO 639-1 codes such as"):
        load_business_settings(business)


def test_the_shipped_settings_answer_in_english_spanish_and_german() -> None:
    assert load_business_settings(ROOT / "business.yml").languages == ("en", "es", "de")


def test_agents_see_the_language_by_name() -> None:
    assert language_label("es") == "Spanish (es)"
    assert language_label("xx") == "xx (xx)"
    assert language_label(None) == ""
