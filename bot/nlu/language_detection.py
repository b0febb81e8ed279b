"""Which language a customer message is in, when the message says so clearly (no Rasa here).

Why py3langid (a fork of langid.py, whose naive-Bayes model ships inside the package) and not
lingua-language-detector: both tell "¿Dónde está mi pedido?" and "Wo ist meine Bestellung?"
apart at once, but lingua's models for the 15 languages below cost ~300 MB of memory in the
Rasa process (measured, high-accuracy mode; its low-accuracy mode put 109 of our 1,211 English
training examples in another language), where py3langid costs ~50 MB and 0.03 ms a message.

Why a high bar (``MIN_CONFIDENCE``): a wrong switch answers an English customer in Spanish,
while a missed switch only keeps the language the conversation already has. At 0.9, none of
the 1,211 English training examples in nlu_data/nlu/ is taken for another language (they are
short, slangy and full of product names: the hard case); one-word greetings ("hola",
"danke") stay below it, and the conversation switches on the customer's first sentence.

What is not language is removed before detection: order numbers, emails, links, @handles,
digits and emoji, so "HL-100982" or "@hearthlink" never decides anything.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

# The languages told apart: the ones a business is likely to support plus the ones customers
# of an English-speaking business often write in. A message in any other language is scored
# against these only (py3langid's ``set_languages``), so it is rarely confident.
CANDIDATES = ("en", "es", "de", "fr", "it", "pt", "nl", "pl", "sv", "da", "tr", "ru", "ja", "zh", "ar")
MIN_CONFIDENCE = 0.9
MIN_LETTERS = 4  # fewer letters than this ("ok", "si") never decides

_NOT_LANGUAGE = re.compile(
    r"https?://\S+|www\.\S+|\S+@\S+\.\S+|@\w+|#\w+|\b[A-Za-z]{1,3}-?\d[\w-]*|\d+|[^\w\s'¿¡?!.,-]",
    re.UNICODE,
)
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)

_lock = threading.Lock()
_identifier: Any = None


@dataclass(frozen=True)
class Detected:
    language: str  # ISO 639-1 code
    confidence: float  # 0..1, normalised over CANDIDATES
    words: int  # words that told the language (order numbers, links, emoji left out)


def language_text(text: str) -> str:
    """The words of ``text`` that can tell a language: no order numbers, links, handles, emoji."""
    return " ".join(_NOT_LANGUAGE.sub(" ", text or "").split())


def detect(text: str, min_confidence: float = MIN_CONFIDENCE) -> Detected | None:
    """The message's language when at least ``min_confidence`` sure, else None."""
    words = language_text(text)
    if len(_LETTER.findall(words)) < MIN_LETTERS:
        return None
    language, confidence = _get_identifier().classify(words)
    confidence = float(confidence)
    if confidence < min_confidence:
        return None
    return Detected(str(language), confidence, len(words.split()))


def _get_identifier() -> Any:
    """py3langid's identifier restricted to CANDIDATES, built once per process (~0.3 s)."""
    global _identifier
    with _lock:
        if _identifier is None:
            # The model is a pickle inside the installed package (its own data, not input).
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(list(CANDIDATES))
            # set_languages keeps the 97-language model beside the subset (~60 MB): drop it.
            identifier._full_model = None
            _identifier = identifier
        return _identifier
