"""bot/nlu/batched_encoder.py: concurrent callers share passes, get their own rows, and their errors.

The batching logic is tested with a slow fake encoder (deterministic, and slow enough that
callers really queue behind a running pass); equality with one-by-one encoding is tested
with the real MiniLM model, the one the bot ships.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from bot.nlu.batched_encoder import BatchedEncoder

TEXTS = [
    "where is my order 12345?",
    "I want a refund for my broken speaker",
    "hi",
    "can I talk to a human please",
    "my thermostat does not connect to the wifi anymore, what can I do about it",
    "thanks!",
    "reset my password",
    "what is your return policy for opened items",
    "WHY IS THIS STILL NOT FIXED",
    "order HL-99812 arrived damaged",
]


class SlowEncoder:
    """``len(text)`` and a hash per text, after a pause; records every batch it was given."""

    def __init__(self, pause: float = 0.02, fail_on: str | None = None) -> None:
        self.pause = pause
        self.fail_on = fail_on
        self.batches: list[list[str]] = []
        self.running = 0
        self.overlapped = False
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            self.running += 1
            self.overlapped |= self.running > 1
            self.batches.append(list(texts))
        try:
            time.sleep(self.pause)
            if self.fail_on is not None and self.fail_on in texts:
                raise ValueError(f"cannot encode {self.fail_on!r}")
            return np.array([[len(t), hash(t) % 1000] for t in texts], dtype=np.float32)
        finally:
            with self._lock:
                self.running -= 1


def expected(text: str) -> np.ndarray:
    return np.array([[len(text), hash(text) % 1000]], dtype=np.float32)


def run_concurrently(call: Callable[[int], object], count: int, workers: int = 16) -> list[object]:
    """``call(i)`` for i in range(count) from ``workers`` threads that start together."""
    start = threading.Barrier(workers)

    def one(i: int) -> object:
        if i < workers:
            start.wait()
        return call(i)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(count)))


def test_an_idle_encoder_runs_the_caller_at_once_alone() -> None:
    fake = SlowEncoder(pause=0.0)
    encoder = BatchedEncoder(fake)
    for text in TEXTS:
        assert np.array_equal(encoder.encode([text]), expected(text))
    assert fake.batches == [[text] for text in TEXTS]


def test_concurrent_callers_share_passes_and_each_gets_its_own_rows() -> None:
    fake = SlowEncoder()
    encoder = BatchedEncoder(fake, max_batch=32)
    texts = [f"{TEXTS[i % len(TEXTS)]} #{i}" for i in range(64)]
    results = run_concurrently(lambda i: encoder.encode([texts[i]]), len(texts))
    for text, rows in zip(texts, results, strict=True):
        assert np.array_equal(rows, expected(text))
    assert len(fake.batches) < len(texts) / 2  # they really batched
    assert not fake.overlapped  # one pass at a time
    assert sorted(t for batch in fake.batches for t in batch) == sorted(texts)  # each text once


def test_a_pass_takes_at_most_max_batch_texts() -> None:
    fake = SlowEncoder()
    encoder = BatchedEncoder(fake, max_batch=5)
    texts = [f"text {i}" for i in range(40)]
    run_concurrently(lambda i: encoder.encode(texts[2 * i : 2 * i + 2]), 20)
    assert max(len(batch) for batch in fake.batches) <= 5
    assert encoder.largest_batch <= 5
    # A single call longer than the bound still runs (alone).
    assert len(encoder.encode([f"long {i}" for i in range(12)])) == 12
    assert fake.batches[-1] == [f"long {i}" for i in range(12)]


def test_an_error_reaches_every_caller_of_its_pass_and_the_encoder_keeps_working() -> None:
    fake = SlowEncoder(pause=0.05, fail_on="poison")
    encoder = BatchedEncoder(fake)
    outcomes: dict[str, object] = {}
    release = threading.Event()

    def call(text: str) -> None:
        if text != "first":
            release.wait()
        try:
            outcomes[text] = encoder.encode([text])
        except ValueError as error:
            outcomes[text] = error

    first = threading.Thread(target=call, args=("first",))
    first.start()
    while not fake.batches:  # "first" is in its pass: the others queue into the next one
        time.sleep(0.001)
    others = [threading.Thread(target=call, args=(text,)) for text in ("a", "poison", "b")]
    for thread in others:
        thread.start()
    release.set()
    for thread in [first, *others]:
        thread.join(timeout=10)
        assert not thread.is_alive(), "a caller waits forever"
    assert fake.batches[0] == ["first"] and sorted(fake.batches[1]) == ["a", "b", "poison"]
    assert np.array_equal(outcomes["first"], expected("first"))
    for text in ("a", "poison", "b"):
        assert isinstance(outcomes[text], ValueError), text
    assert np.array_equal(encoder.encode(["after"]), expected("after"))


def test_a_wrong_number_of_rows_is_an_error_for_the_callers() -> None:
    encoder = BatchedEncoder(lambda texts: np.zeros((len(texts) + 1, 2)))
    with pytest.raises(RuntimeError, match="rows"):
        encoder.encode(["one"])


def test_minilm_vectors_from_many_threads_equal_one_by_one_encoding() -> None:
    from bot.nlu.sentence_featurizer import PACKAGED_MODEL, _batched_encoder, _load_encoder

    model = _load_encoder(PACKAGED_MODEL)
    alone = {
        text: model.encode([text], batch_size=1, normalize_embeddings=True, show_progress_bar=False)[0]
        for text in TEXTS
    }
    encoder = _batched_encoder(PACKAGED_MODEL)
    passes = encoder.passes
    texts = [TEXTS[i % len(TEXTS)] for i in range(60)]
    results = run_concurrently(lambda i: encoder.encode([texts[i]]), len(texts), workers=12)
    for text, rows in zip(texts, results, strict=True):
        assert rows.shape == (1, 384)
        np.testing.assert_allclose(rows[0], alone[text], atol=1e-5)
    assert encoder.passes - passes < len(texts)  # some messages shared a pass
