"""What the knowledge index holds for each article: embedded rows, passages, article evidence.

Why several rows per passage: customers ask in a few words ("doorbell rings but no chime")
and a section's heading is written the same way, while its text is long and dilutes the
sentence embedding. In an exploration on the bench's held-out questions, embedding each
passage's text alone found the right article first for 72.8 %; with "title: heading" rows and
the summary row, 75.9 %; with the articles' ``questions:`` (ways customers ask for it, each a
row showing the article's summary) too, 81 % (bench/README.md, "Knowledge base").

Every row shows a passage: what the customer reads is always the article's own text. The
passage BM25 has one document per passage (a passage shown by twenty rows must not count
twenty times in the word statistics); the article BM25 one per article, with its questions;
the classifier learns the articles from every row's embedding (:mod:`bot.knowledge.retrieval`
explains how they combine).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.knowledge.articles import Article, Passage, passages
from bot.knowledge.bm25 import BM25Index
from bot.knowledge.retrieval import (
    DEFAULT_ARTICLE_WEIGHT,
    DEFAULT_CLASSIFIER_WEIGHT,
    DEFAULT_SATURATION,
    DEFAULT_WEIGHT,
    KnowledgeIndex,
)

#: Inverse L2 strength of the article classifier. Chosen in exploration on the articles'
#: questions (10-fold): 1 → 78 %, 10 → 82 %, 100 → 84 % top-1 alone, but combined with the
#: scores 10 ranked best; a weaker penalty lets twenty phrasings outvote the passages.
CLASSIFIER_C = 10.0


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


def article_text(article: Article) -> str:
    """The article BM25's document: every passage, the tags and the customers' phrasings."""
    parts = [passage.index_text for passage in passages(article)]
    return "\n".join([*parts, " ".join(article.tags), *article.questions])


def train_classifier(embeddings: np.ndarray, labels: np.ndarray, n_articles: int) -> np.ndarray | None:
    """Multinomial logistic regression, one line per article: weights, then bias.

    Returns None for fewer than two articles (nothing to tell apart). scikit-learn is only
    needed here, at training; searching is a matrix product.
    """
    if n_articles < 2:
        return None
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=CLASSIFIER_C, max_iter=2000).fit(embeddings, labels)
    return np.hstack([model.coef_, model.intercept_[:, None]]).astype(np.float32)


def build_index(
    articles: list[Article],
    embed: Callable[[list[str]], np.ndarray],
    weight: float = DEFAULT_WEIGHT,
    saturation: float = DEFAULT_SATURATION,
    article_weight: float = DEFAULT_ARTICLE_WEIGHT,
    classifier_weight: float = DEFAULT_CLASSIFIER_WEIGHT,
) -> KnowledgeIndex:
    """The searchable index of ``articles``; ``embed`` gives unit-length sentence embeddings."""
    units = index_units(articles)
    shown: dict[Passage, int] = {}
    rows = [shown.setdefault(unit.passage, len(shown)) for unit in units]
    unique = list(shown)
    embeddings = embed([unit.embed_text for unit in units]) if units else np.zeros((0, 1), np.float32)
    indexed = [article for article in articles if passages(article)]
    position = {article.slug: i for i, article in enumerate(indexed)}
    labels = np.array([position[unit.passage.slug] for unit in units])
    return KnowledgeIndex(
        [passage.to_dict() for passage in unique],
        embeddings,
        BM25Index.build(passage.index_text for passage in unique),
        weight,
        saturation,
        rows=rows,
        article_bm25=BM25Index.build(article_text(article) for article in indexed) if indexed else None,
        classifier=train_classifier(embeddings, labels, len(indexed)) if units else None,
        article_weight=article_weight,
        classifier_weight=classifier_weight,
    )
