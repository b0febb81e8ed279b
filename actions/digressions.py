"""Is the customer's message a question asked in passing, not the answer a form asked for?

Why: a form that takes free text (the return reason: "tell me in your own words") would
otherwise store "how long does the refund take?" as the answer, and the question goes
unanswered. Such a message must be left unextracted, so Rasa rejects the form for it, the
question's rule answers it and ``DigressionPolicy`` (bot/digression_policy.py) says "Now,
back to where we were:" and runs the form again, which asks again.

Two signals, both needed. The intent alone is not enough: genuine reasons are often
confidently one of the question intents ("not compatible with my alexa" is
device_compatibility at 1.00, "delivery took forever" delivery_time at 0.98, "it's for
privacy reasons" privacy_data at 0.98), and taking those for questions would loop the
customer. So the message must also *read* as a question: a question mark, or a clause
that opens with a question word ("what are your opening hours btw", "wie lange dauert …").
The intents are the ones ``DigressionPolicy`` answers and resumes after (config.yml
``questions``), above the FallbackClassifier threshold, so the list is kept in one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.settings import project_root
from bot.training import shipped_fallback_threshold, shipped_policy


def _wordset(*lines: str) -> frozenset[str]:
    """Space-separated words, one line per language, as a set."""
    return frozenset(" ".join(lines).split())


# Words that open a question in the languages the bot speaks (business.yml languages).
# Wh-words only, plus auxiliaries with a subject after them ("can I", "do you", "kann ich"):
# "does not work with homekit" and "ist kaputt" are reasons, not questions. Unaccented
# Spanish "cuando", "como", "que" are left out: "cuando lo enchufo no enciende" is a reason.
_WH_WORDS = _wordset(
    "how what what's whats when where where's wheres why which who whose",
    "cómo qué cuándo dónde donde cuánto cuanto cuánta cuántos cuántas cuál cuáles quién",
    "wie was wann wo warum wieso weshalb welche welcher welches wer",
)
_AUXILIARIES = _wordset(
    "can could do does did is are will would should shall may have has",
    "kann können könnt muss müssen gibt ist sind habe haben hat darf dürfen",
)
_SUBJECTS = _wordset(
    "i you it we they he she there my your the this that a an",
    "ich sie es man du ihr wir der die das mein meine",
)
# Openers that come before the question itself ("hang on, do you …", "btw what …").
_FILLERS = _wordset(
    "and but also btw oh ok okay so hey hi um wait sorry quick question", "y pero oye und aber übrigens noch"
)
_CLAUSE = re.compile(r"[,;:.!¡…\n]+")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")


def reads_as_question(text: str) -> bool:
    """The text is phrased as a question: a ``?``, or a clause opening with a question word."""
    if "?" in text or "¿" in text:
        return True
    for clause in _CLAUSE.split(text.lower()):
        words = [w.replace("’", "'") for w in _WORD.findall(clause)]
        while words and words[0] in _FILLERS:
            words = words[1:]
        if not words:
            continue
        if words[0] in _WH_WORDS or (words[0] == "por" and words[1:2] == ["qué"]):
            return True
        if words[0] in _AUXILIARIES and len(words) > 1 and words[1] in _SUBJECTS:
            return True
    return False


@lru_cache(maxsize=4)
def _question_settings(config_file: Path) -> tuple[frozenset[str], float]:
    """(DigressionPolicy's question intents, the fallback threshold), read once per config file."""
    policy = shipped_policy("DigressionPolicy", config_file) or {}
    questions = frozenset(str(intent) for intent in policy.get("questions") or ())
    return questions, shipped_fallback_threshold(config_file)


def is_digression(message: Mapping[str, Any], config_file: Path | None = None) -> bool:
    """The latest message (Rasa's parse data) is a question the bot answers before the form goes on."""
    questions, threshold = _question_settings(config_file or project_root() / "config.yml")
    intent = message.get("intent") or {}
    confident = float(intent.get("confidence") or 0.0) >= threshold
    text = str(message.get("text") or "")
    return intent.get("name") in questions and confident and reads_as_question(text)
