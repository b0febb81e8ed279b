"""Grouping the missed messages by meaning (pure: embeddings in, groups out).

Why agglomerative clustering with a cosine distance threshold and average linkage: the
number of topics customers raise is not known in advance (k-means would need it), a topic
is a group of messages that are on average close to each other (average linkage; single
linkage chains unrelated messages through one ambiguous one), and unit-length MiniLM
embeddings compare by cosine. Measured on MiniLM: paraphrases of one question are 0.45–0.8
apart in cosine similarity, questions about different topics mostly below 0.3, so groups
whose average similarity is at least ``1 - DEFAULT_DISTANCE`` = 0.35 are one topic.

Nothing here loads the encoder, so it is tested with hand-made vectors.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_DISTANCE = 0.65  # average cosine distance below which messages are one topic


@dataclass(frozen=True)
class Group:
    """One cluster: indexes of its messages, most central first, and its unit-length centroid."""

    members: tuple[int, ...]
    centroid: np.ndarray

    @property
    def size(self) -> int:
        return len(self.members)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero), so dot products are cosines."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def cluster(embeddings: np.ndarray, distance: float = DEFAULT_DISTANCE) -> list[Group]:
    """Groups of ``embeddings`` rows, biggest first (ties: the group whose first message came first).

    Every row is in exactly one group; a message like no other is a group of one.
    """
    vectors = unit_rows(embeddings)
    count = len(vectors)
    if count == 0:
        return []
    labels = np.zeros(1, dtype=int) if count == 1 else _model(distance).fit_predict(vectors)
    groups = []
    for label in np.unique(labels):
        indexes = np.flatnonzero(labels == label)
        centroid = unit_rows(vectors[indexes].mean(axis=0, keepdims=True))[0]
        closeness = vectors[indexes] @ centroid
        ordered = tuple(int(indexes[i]) for i in np.lexsort((indexes, -closeness)))
        groups.append(Group(ordered, centroid))
    return sorted(groups, key=lambda group: (-group.size, min(group.members)))


def _model(distance: float) -> Any:
    """The estimator; scikit-learn renamed ``affinity`` to ``metric`` in 1.2.

    Imported here: every ``python -m bot`` command builds the parser, which imports this module.
    """
    from sklearn.cluster import AgglomerativeClustering

    options = {"n_clusters": None, "distance_threshold": distance, "linkage": "average"}
    parameters = inspect.signature(AgglomerativeClustering).parameters
    options["metric" if "metric" in parameters else "affinity"] = "cosine"
    return AgglomerativeClustering(**options)
