"""One sentence-encoder pass for the messages that arrive together: opportunistic micro-batching.

Why: a MiniLM forward pass costs ~7 ms of CPU for one sentence but ~2 ms per sentence in a
batch of ten (issue 14's profile), so when several conversations write at once, encoding
their messages together is several times cheaper than one after the other.

Why *opportunistic* (no waiting window): a caller that finds the encoder idle runs at once,
so a single conversation is exactly as fast as before. Only callers that arrive while a pass
is running queue up, and the next pass takes them all together (at most ``max_batch``
texts). The busier the encoder, the bigger the batches; an idle one adds nothing.

How (leader hand-off): every call puts its request in a FIFO queue. A caller that finds no
pass running becomes the *leader*: it takes the head of the queue (its own request, plus
whatever queued behind it, up to ``max_batch`` texts), runs the pass and hands each request
its rows. If more requests queued meanwhile, it promotes the new head of the queue to leader
and returns; that caller wakes up and runs the next pass. So no caller ever runs a pass for
texts that arrived after its own result was ready, passes never overlap (the encoder —
model and Hugging Face tokenizer, which is not safe to call from two threads at once — sees
one caller at a time) and the queue is drained in arrival order.

Why no caller waits forever: a request in the queue is either in the batch of a running pass
or behind the head that the running pass promotes when it ends; the pass delivers its
results, or its exception to every caller in its batch, and promotes the next leader in a
``finally`` block. A caller therefore waits at most for the passes ahead of it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

DEFAULT_MAX_BATCH = 32


class _Request:
    """One caller's texts, and where its leader leaves the outcome."""

    __slots__ = ("error", "lead", "ready", "texts", "vectors")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.ready = threading.Event()  # set when ``vectors``/``error`` is filled in or ``lead`` is True
        self.vectors: np.ndarray | None = None
        self.error: BaseException | None = None
        self.lead = False


class BatchedEncoder:
    """Thread-safe wrapper around ``encode(texts) -> one row per text`` that batches concurrent calls.

    ``encode`` must be a pure function of each text (the row of a text must not depend on
    the other texts of its batch, up to float rounding): true of sentence-transformers with
    an attention mask, where padding does not change the mean-pooled, normalised embedding.
    """

    def __init__(self, encode: Callable[[list[str]], np.ndarray], max_batch: int = DEFAULT_MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self._encode = encode
        self.max_batch = max_batch
        self._lock = threading.Lock()  # guards _queue and _running
        self._queue: deque[_Request] = deque()
        self._running = False  # a leader is running a pass (invariant: queue non-empty => running)
        self.passes = 0  # statistics for tests and benchmarks (updated by the leader only)
        self.largest_batch = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Rows for ``texts`` (in order), computed in this call's thread or in a shared pass."""
        request = _Request(list(texts))
        if not request.texts:
            return np.zeros((0, 0), dtype=np.float32)
        with self._lock:
            self._queue.append(request)
            request.lead = not self._running
            self._running = True
        if not request.lead:
            request.ready.wait()
        if request.lead and request.vectors is None and request.error is None:
            self._run_pass()
        if request.error is not None:
            raise request.error
        assert request.vectors is not None
        return request.vectors

    def _take_batch(self) -> list[_Request]:
        """Head of the queue up to ``max_batch`` texts (always at least the head: a long call runs alone)."""
        with self._lock:
            batch = [self._queue.popleft()]
            size = len(batch[0].texts)
            while self._queue and size + len(self._queue[0].texts) <= self.max_batch:
                size += len(self._queue[0].texts)
                batch.append(self._queue.popleft())
            return batch

    def _run_pass(self) -> None:
        batch = self._take_batch()
        try:
            texts = [text for request in batch for text in request.texts]
            vectors = self._encode(texts)
            if len(vectors) != len(texts):
                raise RuntimeError(f"encoder returned {len(vectors)} rows for {len(texts)} texts")
            start = 0
            for request in batch:
                request.vectors = vectors[start : start + len(request.texts)]
                start += len(request.texts)
        except BaseException as error:  # every caller of the pass gets it, the leader included
            for request in batch:
                request.vectors = None
                request.error = error
        finally:
            self.passes += 1
            self.largest_batch = max(self.largest_batch, sum(len(r.texts) for r in batch))
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True  # it wakes up and runs the next pass
                    self._queue[0].ready.set()
                else:
                    self._running = False
            for request in batch:
                request.ready.set()
