"""Customers writing in Spanish, German and French, through the real servers: the answers are
domain.yml's variants for their language, and an English conversation stays in English."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chat import send
from bot.evaluation import Example, evaluate
from bot.processes import BotProcesses
from bot.responses import template
from tests.support import ROOT
from tests.support.bot import whole_bot

# bench/languages.py measures these on the held-out messages; the test fails well below.
MIN_HELD_OUT_ACCURACY = 0.75


@pytest.fixture(scope="module")
def running_bot(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcesses]:
    with whole_bot(trained_model, tmp_path_factory.mktemp("languages"), relay=False) as processes:
        yield processes


def texts(bot: BotProcesses, sender: str, message: str) -> str:
    replies = send(bot.webhook_url, sender, message, token=bot.tokens.rest_token)
    return "\n".join(r.get("text", "") for r in replies)


def opening(name: str, language: str | None) -> str:
    """The variant's text up to its first placeholder (what any filled reply starts with)."""
    return template(name, language=language).split("{")[0].strip()


def test_a_spanish_customer_is_answered_in_spanish(running_bot: BotProcesses) -> None:
    asked = texts(running_bot, "ana-es", "hola, ¿dónde está mi pedido? lo pedí hace una semana")
    assert opening("utter_ask_order_number", "es") in asked
    assert opening("utter_ask_order_number", "es") != opening("utter_ask_order_number", None)
    # a button press says nothing about a language: the conversation stays in Spanish
    assert opening("utter_flow_stopped", "es") in texts(running_bot, "ana-es", "/stop")


def test_a_german_customer_gets_a_person_in_german(running_bot: BotProcesses) -> None:
    reply = texts(running_bot, "jonas-de", "Ich möchte bitte mit einem Menschen sprechen")
    assert opening("utter_handoff", "de") in reply
    assert opening("utter_handoff", "de") != opening("utter_handoff", None)


def test_an_unsupported_language_hears_the_truth_in_its_own_language(running_bot: BotProcesses) -> None:
    reply = texts(running_bot, "claire-fr", "bonjour, où est ma commande ? je l'attends depuis une semaine")
    assert template("utter_other_language", language="fr") in reply
    assert "bring in a person" in reply or opening("utter_offer_human", None) in reply


def test_an_english_conversation_stays_in_english(running_bot: BotProcesses) -> None:
    assert "I'm the Hearthlink assistant" in texts(running_bot, "olga-en", "hello")
    assert opening("utter_ask_order_number", None) in texts(running_bot, "olga-en", "where is my order?")


def test_held_out_spanish_and_german_messages_find_their_intent(trained_model: Path) -> None:
    import yaml

    document = yaml.safe_load((ROOT / "bench" / "data" / "languages.yml").read_text(encoding="utf-8"))
    for language in ("es", "de"):
        examples = [Example(i, t) for i, texts in document[language].items() for t in texts]
        assert len(examples) >= 100
        report = evaluate(trained_model, examples)
        print(f"\n{language}: {report.summary(5)}")
        assert report.accuracy >= MIN_HELD_OUT_ACCURACY, report.summary()
