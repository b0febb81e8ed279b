"""The held-out in-scope set (bench/data/in_scope.yml) measures what it claims to.

It only measures held-out accuracy if none of its messages is a training example, every
label is an intent the bot has, and each intent has enough messages to count.
"""

from __future__ import annotations

import re
from collections import Counter

import yaml

from bot.evaluation import load_examples, load_in_scope
from bot.settings import project_root

MIN_PER_INTENT = 8


def normalised(text: str) -> str:
    """Lowercase, no punctuation, one space between words: "What's up?" and "whats up" are copies."""
    return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())


def test_every_intent_is_an_intent_of_the_domain() -> None:
    domain = yaml.safe_load((project_root() / "domain.yml").read_text(encoding="utf-8"))
    known = {next(iter(i)) if isinstance(i, dict) else i for i in domain["intents"]}
    unknown = {intent for _, intent in load_in_scope()} - known
    assert not unknown


def test_every_intent_has_enough_messages() -> None:
    counts = Counter(intent for _, intent in load_in_scope())
    assert len(counts) >= 30
    assert {intent: n for intent, n in counts.items() if n < MIN_PER_INTENT} == {}


def test_no_message_is_a_training_example() -> None:
    trained = {normalised(example.plain_text) for example in load_examples()}
    copies = [text for text, _ in load_in_scope() if normalised(text) in trained]
    assert copies == []


def test_no_message_appears_twice() -> None:
    counts = Counter(normalised(text) for text, _ in load_in_scope())
    assert [text for text, n in counts.items() if n > 1] == []
    assert all(isinstance(text, str) and text.strip() for text, _ in load_in_scope())
