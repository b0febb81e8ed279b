"""Hybrid passage search: sentence-embedding cosine plus BM25, best passage per article.

The embeddings are computed elsewhere (MiniLM, at training time for passages and per message
for the question); this module only combines numbers, so it loads no model and is cheap to
test. Everything it saves is plain JSON or a ``.npy`` array, loaded with ``allow_pickle=False``.
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
#: Fitted by bench/knowledge.py (best top-1 of the articles' own ``questions:``, each article's
#: left out of the index in turn); config.yml repeats them next to the threshold.
DEFAULT_WEIGHT = 0.5
#: BM25 becomes ``raw / (raw + saturation)``: an absolute 0..1 scale, so one threshold serves
#: every question. Dividing by the query's best score instead would give the best passage 1.0
#: even for a question that shares one stray word with it.
DEFAULT_SATURATION = 10.0


@dataclass(frozen=True)
class Hit:
    """One search result; the parts of the score are kept so thresholds can be tuned."""

    passage: Passage
    score: float
    cosine: float
    bm25: float  # raw / (raw + saturation): 0..1 on one scale for every question


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), so a dot product is the cosine."""
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)


class KnowledgeIndex:
    """Passages, their unit embeddings and a BM25 index, searchable and saveable together.

    ``weight`` is the share of the cosine in the score (the rest is saturated BM25), fitted
    by ``bench/knowledge.py``.
    Several rows may show the same passage (a heading, a customer's phrasing, the text itself:
    see :mod:`bot.knowledge.units`); the best row of each article counts.
    """

    def __init__(
        self,
        passages: Sequence[dict[str, Any]],
        embeddings: np.ndarray,
        bm25: BM25Index,
        weight: float = DEFAULT_WEIGHT,
        saturation: float = DEFAULT_SATURATION,
    ) -> None:
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape[0] != len(passages) or len(bm25) != len(passages):
            raise ValueError(
                f"knowledge index: {len(passages)} passages but embeddings {embeddings.shape} and "
                f"{len(bm25)} BM25 documents; rebuild the index from the same passages"
            )
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"knowledge index: weight {weight} must be between 0 and 1")
        self.passages = [dict(passage) for passage in passages]
        self.embeddings = _unit_rows(embeddings)
        self.bm25 = bm25
        self.weight = weight
        self.saturation = saturation

    @classmethod
    def build(
        cls, passages: Sequence[Passage], embeddings: np.ndarray, weight: float = DEFAULT_WEIGHT
    ) -> KnowledgeIndex:
        """Index ``passages``; row ``i`` of ``embeddings`` must embed ``passages[i].index_text``."""
        bm25 = BM25Index.build(passage.index_text for passage in passages)
        return cls([passage.to_dict() for passage in passages], embeddings, bm25, weight)

    def __len__(self) -> int:
        return len(self.passages)

    def search(self, query_text: str, query_embedding: np.ndarray, top_k: int = 3) -> list[Hit]:
        """The ``top_k`` best articles for a question, best first, one passage each.

        A second passage of the same article is not a different answer, so only the best
        passage of each article is kept.
        """
        if not self.passages or top_k <= 0:
            return []
        query = _unit_rows(np.asarray(query_embedding, dtype=np.float32).reshape(1, -1))[0]
        if query.shape[0] != self.embeddings.shape[1]:
            raise ValueError(
                f"knowledge index: query embedding has {query.shape[0]} dimensions, "
                f"passages have {self.embeddings.shape[1]}; use the same embedding model"
            )
        cosine = self.embeddings @ query
        raw = self.bm25.scores(query_text)
        bm25 = raw / (raw + self.saturation)
        scores = self.weight * cosine + (1 - self.weight) * bm25
        hits: list[Hit] = []
        seen: set[str] = set()
        for i in np.argsort(-scores, kind="stable"):
            passage = self.passages[i]
            if passage["slug"] in seen:
                continue
            seen.add(passage["slug"])
            hits.append(Hit(Passage.from_dict(passage), float(scores[i]), float(cosine[i]), float(bm25[i])))
            if len(hits) == top_k:
                break
        return hits

    def save(self, directory: Path) -> None:
        """Write the three files into ``directory`` (a Rasa model's resource folder)."""
        directory.mkdir(parents=True, exist_ok=True)
        data = {"version": 1, "weight": self.weight, "saturation": self.saturation, "passages": self.passages}
        (directory / PASSAGES_FILE).write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")
        np.save(directory / EMBEDDINGS_FILE, self.embeddings, allow_pickle=False)
        (directory / BM25_FILE).write_text(self.bm25.to_json(), "utf-8")

    @classmethod
    def load(cls, directory: Path, weight: float | None = None) -> KnowledgeIndex:
        """Read what :meth:`save` wrote; ``weight`` overrides the saved one (for benchmarks)."""
        data = json.loads((directory / PASSAGES_FILE).read_text("utf-8"))
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError(f"{directory / PASSAGES_FILE}: unknown format; retrain the model")
        embeddings = np.load(directory / EMBEDDINGS_FILE, allow_pickle=False)
        bm25 = BM25Index.from_json((directory / BM25_FILE).read_text("utf-8"))
        chosen = float(data["weight"]) if weight is None else weight
        saturation = float(data.get("saturation", DEFAULT_SATURATION))
        return cls(data["passages"], embeddings, bm25, chosen, saturation)


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
