"""A small Okapi BM25 over help-center passages, stored as plain JSON inside a trained model.

Sentence embeddings catch paraphrases but blur exact words: product names ("Mesh Point"),
codes, "amber light". BM25 rewards those exact words, so retrieval mixes both scores.

The tokenizer is deliberately light: lowercase, unicode word characters (so "é" and "°" stay
usable), a short English stopword list, and suffix stripping for plurals, "-ing" and "-ed".
Customers write "batteries", "charging", "plugged in" where the article says "battery",
"charge", "plug". A full stemmer (Porter) would need a dependency and merges words such as
"general"/"generate"; the embedding already covers deeper variants. The stopword list is short
on purpose: "not", "no" and "off" change the meaning of a support question, so they stay.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

K1 = 1.5
B = 0.75
_WORD = re.compile(r"\w+")
_STOPWORD_TEXT = """
a an the and or but of to in on at by for from with about as into is are was were be been
am do does did i me my mine we our you your it its this that these those there here what
which who how when where why can could would should will shall may might have has had
if so than then just please hi hello thanks s t
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_UNDOUBLE = frozenset("bgmnprt")  # "plugged" -> "plugg" -> "plug"; "added" stays "add"
# One spelling per word: customers write "wifi" and "fibre" where an article says "Wi-Fi" and
# "Fiber" (the help center mixes British and American spelling, customers do too).
_JOINED = re.compile(r"\b(wi|e)-(fi|mail)\b")
_SPELLING = {
    "fibre": "fiber",
    "colour": "color",
    "colours": "colors",
    "centre": "center",
    "metre": "meter",
    "metres": "meters",
}


def stem(word: str) -> str:
    """Strip one plural, "-ing" or "-ed" suffix and a final "e", so word forms meet."""
    if len(word) <= 3 or word.isdigit():
        return word
    stripped = False
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word, stripped = word[:-3], True
    elif word.endswith("ed") and len(word) > 4:
        word, stripped = word[:-2], True
    if stripped and len(word) > 3 and word[-1] == word[-2] and word[-1] in _UNDOUBLE:
        word = word[:-1]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Index and query words, in order; used the same way for passages and questions."""
    words = _WORD.findall(_JOINED.sub(r"\1\2", text.lower()))
    return [stem(_SPELLING.get(word, word)) for word in words if word not in STOPWORDS]


class BM25Index:
    """Term frequencies per passage plus the statistics BM25 needs; rebuilt from JSON on load."""

    def __init__(self, doc_terms: Sequence[dict[str, int]], k1: float = K1, b: float = B) -> None:
        self.doc_terms = [dict(terms) for terms in doc_terms]
        self.k1, self.b = k1, b
        self.lengths = np.array([sum(terms.values()) for terms in self.doc_terms], dtype=np.float64)
        self.avgdl = float(self.lengths.mean()) if len(self.lengths) and self.lengths.mean() > 0 else 1.0
        postings: dict[str, list[tuple[int, int]]] = {}
        for doc, terms in enumerate(self.doc_terms):
            for term, count in terms.items():
                postings.setdefault(term, []).append((doc, count))
        n = len(self.doc_terms)
        self.postings = {
            term: (np.array([d for d, _ in hits]), np.array([c for _, c in hits], dtype=np.float64))
            for term, hits in postings.items()
        }
        # Lucene's idf: log(1 + (N - df + 0.5) / (df + 0.5)) never goes negative, so a word that
        # is in most passages adds a little instead of pushing its passages down.
        self.idf = {
            term: math.log(1 + (n - len(d) + 0.5) / (len(d) + 0.5)) for term, (d, _) in self.postings.items()
        }

    @classmethod
    def build(cls, texts: Iterable[str], k1: float = K1, b: float = B) -> BM25Index:
        """Index ``texts`` in order; score positions match the order given."""
        return cls([dict(Counter(tokenize(text))) for text in texts], k1, b)

    def __len__(self) -> int:
        return len(self.doc_terms)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for ``query`` (0 where no query word occurs).

        Each distinct query word counts once: customers repeat words for emphasis, not meaning.
        """
        result = np.zeros(len(self.doc_terms), dtype=np.float64)
        norm = self.k1 * (1 - self.b + self.b * self.lengths / self.avgdl)
        for term in dict.fromkeys(tokenize(query)):
            if term not in self.postings:
                continue
            docs, counts = self.postings[term]
            result[docs] += self.idf[term] * counts * (self.k1 + 1) / (counts + norm[docs])
        return result

    def to_json(self) -> str:
        """Plain JSON (no pickle): a trained model must be safe to load and diff."""
        return json.dumps({"version": 1, "k1": self.k1, "b": self.b, "docs": self.doc_terms}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BM25Index:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("knowledge BM25 index: unknown format; retrain the model")
        docs = [{str(term): int(count) for term, count in terms.items()} for terms in data["docs"]]
        return cls(docs, float(data["k1"]), float(data["b"]))
