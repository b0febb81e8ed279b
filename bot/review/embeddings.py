"""The NLU's own sentence encoder, used for the review: the missed messages and the intents' examples.

Why the NLU's encoder (bot/nlu/sentence_featurizer.py ``embed_texts``, the model named in
config.yml): "close to an intent" then means close in the space the classifier decides in,
and the model is already installed (the packaged all-MiniLM-L6-v2, offline).

The intents' examples (1,600 of them) take ~15 s to embed on 2 cores, so their embeddings
are cached in the cache directory (``SUPPORTBOT_CACHE_DIR``), keyed by the model and every
example's intent and text: a changed example is embedded afresh, an unchanged set is read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import yaml

from bot.nlu.sentence_featurizer import PACKAGED_MODEL

FEATURIZER = "bot.nlu.sentence_featurizer.SentenceEmbeddingFeaturizer"
BATCH = 256  # texts per progress line

Progress = Callable[[str], None]


def encoder_model(config_file: Path) -> str:
    """The model the NLU pipeline embeds with (config.yml), or the packaged MiniLM."""
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    for component in config.get("pipeline") or []:
        if isinstance(component, dict) and component.get("name") == FEATURIZER:
            return str(component.get("model") or PACKAGED_MODEL)
    return PACKAGED_MODEL


def embed(model: str, texts: Sequence[str], what: str, progress: Progress = lambda _line: None) -> np.ndarray:
    """Unit-length embeddings of ``texts``, a progress line per batch when there are several."""
    from bot.nlu.sentence_featurizer import embed_texts  # loads sentence_transformers: only here

    items = list(texts)
    if not items:
        return np.zeros((0, 0))
    parts = []
    for start in range(0, len(items), BATCH):
        parts.append(embed_texts(model, items[start : start + BATCH]))
        if len(items) > BATCH:
            progress(f"embedded {min(start + BATCH, len(items)):,} of {len(items):,} {what}")
    return np.vstack(parts)


def intent_examples(nlu_dir: Path) -> tuple[list[str], list[str]]:
    """(intent of each example, its text without entity markup) of the NLU files."""
    from bot.evaluation import load_examples

    examples = load_examples(nlu_dir)
    return [e.intent for e in examples], [" ".join(e.plain_text.split()) for e in examples]


def example_embeddings(
    model: str, labels: Sequence[str], texts: Sequence[str], cache: Path | None, progress: Progress
) -> np.ndarray:
    """Embeddings of the intents' examples, from the cache when the examples have not changed."""
    key = hashlib.sha256(model.encode())
    for label, text in zip(labels, texts, strict=True):
        key.update(f"\0{label}\0{text}".encode())
    path = cache / f"intent-examples-{key.hexdigest()[:24]}.npy" if cache is not None else None
    if path is not None and path.is_file():
        cached = np.load(path)
        if cached.shape[0] == len(texts):
            progress(f"intent examples: {len(texts):,} embeddings from the cache ({path.parent})")
            return cached
    progress(f"embedding {len(texts):,} training examples of {len(set(labels))} intents (cached afterwards)")
    vectors = embed(model, texts, "training examples", progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npy")
        np.save(partial, vectors)
        partial.replace(path)
    return vectors
