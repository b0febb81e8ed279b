"""Hybrid article search: a passage score that decides *whether* to answer, and a ranking that
decides *which* article, with article-level evidence added.

The embeddings are computed elsewhere (MiniLM, at training time for the index rows and per
message for the question); this module only combines numbers, so it loads no model and is cheap
to test. Everything it saves is plain JSON or a ``.npy`` array, loaded with ``allow_pickle=False``.

Two scores per article, because they answer different questions:

- ``score`` (the confidence the threshold applies to): the best row of the article by
  ``weight * cosine + (1 - weight) * BM25``, BM25 saturated to 0..1. It also picks the passage
  the customer reads. On its own it ranked 84 % of the articles' questions right (10-fold);
- ``rank`` (the order of the articles): ``score`` plus ``article_weight`` times a BM25 over the
  whole article (title, every section, tags and its ``questions:``) plus ``classifier_weight``
  times a linear classifier's probability (trained on the rows' embeddings at indexing). Most
  misses were between neighbouring articles, where one passage matches a few words and the
  whole article matches more: the two terms raised the same figure to 90 % (bench/README.md).
  They are not used as the confidence: the classifier's probabilities spread over the
  articles even for a message about another business, so they separate right answers from
  out-of-domain messages worse than the passage score does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.knowledge.articles import Passage
from bot.knowledge.bm25 import BM25Index

PASSAGES_FILE = "knowledge_passages.json"
EMBEDDINGS_FILE = "knowledge_embeddings.npy"
BM25_FILE = "knowledge_bm25.json"
ARTICLE_BM25_FILE = "knowledge_article_bm25.json"
CLASSIFIER_FILE = "knowledge_classifier.npy"
FORMAT_VERSION = 2
#: Fitted by bench/knowledge.py (best top-1 of the articles' own ``questions:``, each asked of
#: an index built without its tenth of them); config.yml repeats them next to the threshold.
DEFAULT_WEIGHT = 0.5
#: BM25 becomes ``raw / (raw + saturation)``: an absolute 0..1 scale, so one threshold serves
#: every question. Dividing by the query's best score instead would give the best passage 1.0
#: even for a question that shares one stray word with it.
DEFAULT_SATURATION = 10.0
DEFAULT_ARTICLE_WEIGHT = 0.0
DEFAULT_CLASSIFIER_WEIGHT = 0.0


@dataclass(frozen=True)
class Hit:
    """One search result; the parts of the score are kept so thresholds can be tuned."""

    passage: Passage
    score: float  # the confidence: what the threshold is compared with
    cosine: float
    bm25: float  # raw / (raw + saturation): 0..1 on one scale for every question
    rank: float = 0.0  # score plus the article-level terms: the order of the hits


@dataclass(frozen=True)
class Parts:
    """The raw evidence for one question, before any weight is applied (benchmarks reuse it)."""

    cosine: np.ndarray  # per row
    bm25: np.ndarray  # raw, per passage
    article_bm25: np.ndarray  # raw, per article
    classifier: np.ndarray  # probability per article (zeros without a classifier)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), so a dot product is the cosine."""
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)


class KnowledgeIndex:
    """Passages, the embedded rows that point at them, and the article-level evidence.

    Several rows may show the same passage (a heading, a customer's phrasing, the text itself:
    see :mod:`bot.knowledge.units`); ``rows[i]`` is the passage row ``i`` shows. ``bm25`` has
    one document per passage, ``article_bm25`` one per article (in ``slugs`` order), and
    ``classifier`` one line per article: weights then bias. The last two are optional
    (``KnowledgeIndex.build`` makes an index of passages alone).
    """

    def __init__(
        self,
        passages: Sequence[dict[str, Any]],
        embeddings: np.ndarray,
        bm25: BM25Index,
        weight: float = DEFAULT_WEIGHT,
        saturation: float = DEFAULT_SATURATION,
        *,
        rows: Sequence[int] | None = None,
        article_bm25: BM25Index | None = None,
        classifier: np.ndarray | None = None,
        article_weight: float = DEFAULT_ARTICLE_WEIGHT,
        classifier_weight: float = DEFAULT_CLASSIFIER_WEIGHT,
    ) -> None:
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"knowledge index: weight {weight} must be between 0 and 1")
        self.rows = np.arange(len(passages)) if rows is None else np.asarray(rows, dtype=np.int64)
        self.passages = [dict(passage) for passage in passages]
        self.embeddings = _unit_rows(np.asarray(embeddings, dtype=np.float32))
        self.bm25, self.article_bm25 = bm25, article_bm25
        self.classifier = None if classifier is None else np.asarray(classifier, dtype=np.float32)
        self.weight, self.saturation = weight, saturation
        self.article_weight, self.classifier_weight = article_weight, classifier_weight
        self.slugs = list(dict.fromkeys(str(passage["slug"]) for passage in self.passages))
        position = {slug: i for i, slug in enumerate(self.slugs)}
        self.passage_article = np.array([position[str(p["slug"])] for p in self.passages], dtype=np.int64)
        self._check_shapes()

    def _check_shapes(self) -> None:
        """Parts that do not belong together fail here, not as a wrong answer later."""
        rows, shape = self.rows, self.embeddings.shape
        if len(shape) != 2 or shape[0] != len(rows) or len(self.bm25) != len(self.passages):
            raise ValueError(
                f"knowledge index: {len(self.passages)} passages, {len(rows)} rows, but embeddings "
                f"{shape} and {len(self.bm25)} BM25 documents; rebuild the index from the same passages"
            )
        if len(rows) and not (rows.min() >= 0 and rows.max() < len(self.passages)):
            raise ValueError("knowledge index: a row points at no passage; rebuild the index")
        if self.article_bm25 is not None and len(self.article_bm25) != len(self.slugs):
            raise ValueError(f"knowledge index: {len(self.slugs)} articles but {len(self.article_bm25)} docs")
        if self.classifier is not None and self.classifier.shape != (len(self.slugs), shape[1] + 1):
            raise ValueError(f"knowledge index: classifier {self.classifier.shape} does not fit; rebuild")

    @classmethod
    def build(
        cls, passages: Sequence[Passage], embeddings: np.ndarray, weight: float = DEFAULT_WEIGHT
    ) -> KnowledgeIndex:
        """Index ``passages`` alone; row ``i`` of ``embeddings`` must embed ``passages[i].index_text``."""
        bm25 = BM25Index.build(passage.index_text for passage in passages)
        return cls([passage.to_dict() for passage in passages], embeddings, bm25, weight)

    def __len__(self) -> int:
        return len(self.rows)

    def parts(self, query_text: str, query_embedding: np.ndarray) -> Parts:
        """Every raw score of one question: a few hundred dot products and two BM25 passes."""
        query = _unit_rows(np.asarray(query_embedding, dtype=np.float32).reshape(1, -1))[0]
        if query.shape[0] != self.embeddings.shape[1]:
            raise ValueError(
                f"knowledge index: query embedding has {query.shape[0]} dimensions, "
                f"passages have {self.embeddings.shape[1]}; use the same embedding model"
            )
        articles = self.article_bm25.scores(query_text) if self.article_bm25 is not None else None
        probabilities = np.zeros(len(self.slugs))
        if self.classifier is not None:
            logits = self.classifier[:, :-1] @ query + self.classifier[:, -1]
            exp = np.exp(logits - logits.max())
            probabilities = exp / exp.sum()
        return Parts(
            self.embeddings @ query,
            self.bm25.scores(query_text),
            np.zeros(len(self.slugs)) if articles is None else articles,
            probabilities,
        )

    def rank(self, parts: Parts, top_k: int = 3, **override: float) -> list[Hit]:
        """The ``top_k`` best articles for ``parts``, best first, each with its best passage.

        ``override`` replaces ``weight``, ``saturation``, ``article_weight`` or
        ``classifier_weight`` for this call only, so a benchmark can try values on one index.
        """
        if not len(self.rows) or top_k <= 0:
            return []
        weight = override.get("weight", self.weight)
        saturation = override.get("saturation", self.saturation)
        bm25 = parts.bm25 / (parts.bm25 + saturation)
        row_scores = weight * parts.cosine + (1 - weight) * bm25[self.rows]
        best_row: dict[int, int] = {}  # article -> its best row (the first seen in score order)
        for i in np.argsort(-row_scores, kind="stable"):
            best_row.setdefault(int(self.passage_article[self.rows[i]]), int(i))
            if len(best_row) == len(self.slugs):
                break
        article_bm25 = parts.article_bm25 / (parts.article_bm25 + saturation)
        extra = override.get("article_weight", self.article_weight) * article_bm25
        extra = extra + override.get("classifier_weight", self.classifier_weight) * parts.classifier
        ranked = sorted(best_row.items(), key=lambda item: (-(row_scores[item[1]] + extra[item[0]]), item[1]))
        hits = []
        for article, row in ranked[:top_k]:
            passage = self.rows[row]
            score = float(row_scores[row])
            hits.append(
                Hit(
                    Passage.from_dict(self.passages[passage]),
                    score,
                    float(parts.cosine[row]),
                    float(bm25[passage]),
                    score + float(extra[article]),
                )
            )
        return hits

    def search(self, query_text: str, query_embedding: np.ndarray, top_k: int = 3) -> list[Hit]:
        """The ``top_k`` best articles for a question, best first, one passage each.

        A second passage of the same article is not a different answer, so only the best
        passage of each article is kept.
        """
        if not len(self.rows) or top_k <= 0:
            return []
        return self.rank(self.parts(query_text, query_embedding), top_k)

    def save(self, directory: Path) -> None:
        """Write the index files into ``directory`` (a Rasa model's resource folder)."""
        directory.mkdir(parents=True, exist_ok=True)
        data = {
            "version": FORMAT_VERSION,
            "weight": self.weight,
            "saturation": self.saturation,
            "article_weight": self.article_weight,
            "classifier_weight": self.classifier_weight,
            "rows": self.rows.tolist(),
            "passages": self.passages,
        }
        (directory / PASSAGES_FILE).write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")
        np.save(directory / EMBEDDINGS_FILE, self.embeddings, allow_pickle=False)
        (directory / BM25_FILE).write_text(self.bm25.to_json(), "utf-8")
        if self.article_bm25 is not None:
            (directory / ARTICLE_BM25_FILE).write_text(self.article_bm25.to_json(), "utf-8")
        if self.classifier is not None:
            np.save(directory / CLASSIFIER_FILE, self.classifier, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path, weight: float | None = None) -> KnowledgeIndex:
        """Read what :meth:`save` wrote; ``weight`` overrides the saved one (for benchmarks)."""
        data = json.loads((directory / PASSAGES_FILE).read_text("utf-8"))
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise ValueError(f"{directory / PASSAGES_FILE}: unknown format; retrain the model")
        embeddings = np.load(directory / EMBEDDINGS_FILE, allow_pickle=False)
        bm25 = BM25Index.from_json((directory / BM25_FILE).read_text("utf-8"))
        articles, classifier_path = directory / ARTICLE_BM25_FILE, directory / CLASSIFIER_FILE
        article_bm25 = BM25Index.from_json(articles.read_text("utf-8")) if articles.exists() else None
        classifier = np.load(classifier_path, allow_pickle=False) if classifier_path.exists() else None
        return cls(
            data["passages"],
            embeddings,
            bm25,
            float(data["weight"]) if weight is None else weight,
            float(data["saturation"]),
            rows=[int(row) for row in data["rows"]],
            article_bm25=article_bm25,
            classifier=classifier,
            article_weight=float(data["article_weight"]),
            classifier_weight=float(data["classifier_weight"]),
        )


def content_hash(folder: Path) -> str:
    """sha256 over the sorted names and bytes of the ``.md`` files, for the training cache.

    The README is included: hashing one file too many only costs a retrain, one too few would
    serve stale answers. Name and length prefixes keep "ab"+"c" and "a"+"bc" apart.
    """
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.md"), key=lambda path: path.name):
        content = path.read_bytes()
        digest.update(f"{path.name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()
