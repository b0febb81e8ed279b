"""What the knowledge index embeds for each article: its headings, summary, sections, phrasings.

Why several rows per passage: customers ask in a few words ("doorbell rings but no chime")
and a section's heading is written the same way, while its text is long and dilutes the
sentence embedding. In an exploration on the bench's held-out questions, embedding each
passage's text alone found the right article first for 72.8 %; with "title: heading" rows and
the summary row, 75.9 %; with the articles' ``questions:`` (ways customers ask for it, each a
row showing the article's summary) too, 81 % (bench/README.md, "Knowledge base").

Every row shows a passage: what the customer reads is always the article's own text.
BM25 always scores the passage's full text (title, heading and body), never the short row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.knowledge.articles import Article, Passage, passages
from bot.knowledge.bm25 import BM25Index
from bot.knowledge.retrieval import DEFAULT_SATURATION, DEFAULT_WEIGHT, KnowledgeIndex


@dataclass(frozen=True)
class Unit:
    """One row of the index: the text to embed and the passage it answers with."""

    embed_text: str
    passage: Passage


def index_units(articles: list[Article]) -> list[Unit]:
    """The rows for ``articles``, in article order (the summary passage first in each)."""
    units: list[Unit] = []
    for article in articles:
        shown = passages(article)
        if not shown:
            continue
        opening = shown[0]  # the summary, which answers the most common question on its own
        units.append(Unit(f"{article.title}. {opening.text}", opening))
        units += [Unit(question, opening) for question in getattr(article, "questions", ())]
        for passage in (p for p in shown if p.heading):
            units.append(Unit(f"{article.title}: {passage.heading}", passage))
            units.append(Unit(f"{passage.heading} {passage.text}", passage))
    return units


def build_index(
    articles: list[Article],
    embed: Callable[[list[str]], np.ndarray],
    weight: float = DEFAULT_WEIGHT,
    saturation: float = DEFAULT_SATURATION,
) -> KnowledgeIndex:
    """The searchable index of ``articles``; ``embed`` gives unit-length sentence embeddings."""
    units = index_units(articles)
    embeddings = embed([unit.embed_text for unit in units]) if units else np.zeros((0, 1), np.float32)
    bm25 = BM25Index.build([unit.passage.index_text for unit in units])
    return KnowledgeIndex([unit.passage.to_dict() for unit in units], embeddings, bm25, weight, saturation)
