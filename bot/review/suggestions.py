"""What to do with a group of missed messages: extend an intent, add one, or write an article (pure).

- **Extend an existing intent** when the group's messages are close to one intent's training
  examples: the mean, over the group's messages, of each message's cosine similarity to its
  nearest example of that intent reaches :data:`EXTEND_SIMILARITY`. (Nearest example rather
  than the intent's centroid: an intent's examples cover several wordings, and a message only
  needs to be near one of them.) On MiniLM, messages that mean what an intent means score
  0.65–0.9 against it, unrelated ones below 0.55. ``out_of_scope`` counts as an intent:
  "extend out_of_scope" is the right answer for a group of other businesses' questions.
- **A new intent** otherwise, named after the words that set the group apart from the
  other missed messages (TF-IDF), in snake_case, never an existing intent's name.
- **An article draft** when people resolved some of the group's handoffs: their replies
  are the answer the help center lacks, the group's messages the customers' wordings.

Inputs are embeddings and already anonymised text; nothing here loads the encoder.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

EXTEND_SIMILARITY = 0.65
NAME_WORDS = 2  # words in a suggested intent name or article slug
TAG_WORDS = 3
MAX_NAME = 48
ARTICLE_ANSWERS = 4  # agents' replies kept for a draft
MIN_ANSWER_WORDS = 6  # shorter replies ("On it!", "Thanks, one moment") are not answers
# Words of our placeholders (bot/redact.py) and chat filler: never a name.
_FILLER = frozenset({
    "order", "number", "email", "redacted", "card", "hi", "hello", "hey", "please", "pls", "thanks",
    "thank", "just", "need", "want", "help", "hearthlink", "im", "ive", "dont", "cant", "does", "did",
})  # fmt: skip
_WORD = re.compile(r"[a-z][a-z0-9]+")


@dataclass(frozen=True)
class IntentMatch:
    intent: str
    similarity: float


def intent_matches(
    members: np.ndarray, examples: np.ndarray, labels: Sequence[str], top: int = 3
) -> list[IntentMatch]:
    """The intents nearest to a group, best first: mean of each member's best cosine to the intent.

    ``members`` and ``examples`` are unit-length rows; ``labels[i]`` is the intent of ``examples[i]``.
    """
    if len(members) == 0 or len(examples) == 0:
        return []
    similarities = np.asarray(members) @ np.asarray(examples).T  # members x examples
    names = np.asarray(labels)
    scores = []
    for intent in sorted(set(labels)):
        nearest = similarities[:, names == intent].max(axis=1)
        scores.append(IntentMatch(intent, round(float(nearest.mean()), 3)))
    return sorted(scores, key=lambda match: -match.similarity)[:top]


def extends(matches: Sequence[IntentMatch], threshold: float = EXTEND_SIMILARITY) -> IntentMatch | None:
    """The intent to extend, or None when the group needs a new one."""
    return matches[0] if matches and matches[0].similarity >= threshold else None


def distinctive_words(group: Sequence[str], everything: Sequence[str], count: int = TAG_WORDS) -> list[str]:
    """The words that set ``group`` apart from all missed messages (``everything``), most telling first."""
    documents = [" ".join(group), *everything]
    try:
        matrix = TfidfVectorizer(token_pattern=_WORD.pattern).fit(documents)
    except ValueError:  # no word at all
        return []
    weights = matrix.transform([documents[0]]).toarray()[0]
    vocabulary = matrix.get_feature_names_out()
    order = np.lexsort((vocabulary, -weights))
    stop, found = _stop_words(), []
    for word in (str(vocabulary[i]) for i in order if weights[i] > 0):
        if word not in stop and not any(_same_stem(word, other) for other in found):  # wrap, wrapping
            found.append(word)
    return found[:count]


def _same_stem(one: str, other: str) -> bool:
    shorter, longer = sorted((one, other), key=len)
    return len(shorter) >= 3 and longer.startswith(shorter[: max(3, len(shorter) - 1)])


def intent_name(words: Sequence[str], taken: set[str]) -> str:
    """A snake_case intent name from ``words`` that is not in ``taken`` (a number is added if needed)."""
    base = "_".join(words[:NAME_WORDS])[:MAX_NAME].strip("_") or "new_topic"
    if not base[0].isalpha():
        base = f"about_{base}"[:MAX_NAME]
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base[: MAX_NAME - 3]}_{n}"
    return name


def article_slug(words: Sequence[str], taken: set[str]) -> str:
    """A help-center slug (lowercase words joined by hyphens) that no article has yet."""
    return intent_name(words, {slug.replace("-", "_") for slug in taken}).replace("_", "-")


def answers(replies: Sequence[str], limit: int = ARTICLE_ANSWERS) -> list[str]:
    """The agents' replies worth an article: long enough, most often given first, then longest."""
    counted = Counter(reply for reply in replies if len(reply.split()) >= MIN_ANSWER_WORDS)
    return [reply for reply, _ in sorted(counted.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))][
        :limit
    ]


def article_title(examples: Sequence[str]) -> str:
    """A working title: the group's most central question, as a sentence (the lead rewrites it)."""
    first = " ".join((examples[0] if examples else "New help-center article").split())
    return first[:1].upper() + first[1:]


def _stop_words() -> set[str]:
    return set(ENGLISH_STOP_WORDS) | _FILLER
