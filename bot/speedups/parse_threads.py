"""Run Rasa's NLU graph in a small thread pool, so concurrent messages overlap (and batch).

Why: Rasa 3.6 runs the NLU graph synchronously on the event loop
(``MessageProcessor.parse_message`` → ``self._parse_message_with_graph(...)``): while one
message is parsed (~20 ms of CPU, most of it the MiniLM forward pass) nothing else in the
process moves, and two messages never meet in the sentence encoder. With the graph run in
a thread (``await loop.run_in_executor(...)``) the event loop keeps serving other
conversations, and messages parsed at the same time share one forward pass in
bot/nlu/batched_encoder.py, which costs a fraction per message (issue 14's profile: 7.3 ms
for one sentence alone, 2.0 ms each in a batch of ten). The pool is bounded
(:data:`MAX_THREADS`): a burst queues for a thread instead of starting one per message.

What stays identical: the new ``parse_message`` is Rasa 3.6.x's own, line for line, except
that the graph run is awaited in the pool (with the caller's context variables, as
``asyncio.to_thread`` does); the HTTP-interpreter path is Rasa's own method unchanged. Only
Rasa 3.6 is patched (the copied lines are from that version); another version runs unpatched
with a warning. The same parse result comes out (tests/test_parse_threads.py).

Why it is safe to run the graph in several threads at once. A graph run builds its own dask
graph and ``Message`` objects per call (``DaskGraphRunner.run``: a fresh graph dict, the
synchronous ``dask.get`` scheduler in the calling thread); every node of the prediction
graph is eager (one component instance built at load time, only *read* while predicting),
so concurrent runs share component objects but no per-run state. The NLU subgraph does not
read the tracker (its nodes are the message converter, the domain provider and the pipeline
below), and a conversation's tracker is held under its lock-store lock while it is parsed
anyway. Component by component (config.yml's pipeline):

- ``NLUMessageConverter``, ``DomainProvider``, ``RegexMessageHandler``: build a new
  ``Message`` per call / return the loaded domain / read the domain — no shared writes.
- ``WhitespaceTokenizer``: compiled regexes and config set in ``__init__``; ``process`` only
  writes tokens onto the call's own messages (``re`` patterns are safe across threads).
- ``SentenceEmbeddingFeaturizer``: every call goes through the process's one
  ``BatchedEncoder``, which runs one pass at a time, so the SentenceTransformer (which puts
  itself in eval mode on every call) and its Hugging Face fast tokenizer (which raises
  "Already borrowed" when two threads use it at once) never see two threads.
- ``NgramFeaturizer``: fitted scikit-learn ``TfidfVectorizer.transform`` — reads the fitted
  vocabulary and idf, returns new matrices.
- ``LinearIntentClassifier``: a matrix product with weights loaded at start, read-only.
- ``RegexEntityExtractor`` / ``EntitySynonymMapper``: patterns and the synonym dict are filled
  at training/loading and only read in ``process``.
- ``FallbackClassifier``: config read-only, writes only the call's messages.
- ``SentimentAnalyzer``: pure functions over module-level constant tables; the threshold comes
  from ``load_business_settings`` (``lru_cache``, which is thread-safe: at worst two threads
  parse the same file once each, to equal results).

Measured (issue 14, ``bench/latency.py --topologies single --levels 1 10``, 2 cores, with
``OMP_NUM_THREADS=1`` from bot/settings.py): the thread hop costs ~0.07 ms (p50; p99 0.15 ms)
and an idle ``BatchedEncoder`` ~5 µs, so one conversation's p50 stays ~36 ms; ten
conversations go from ~25 to ~36 messages/s, with ~40 instead of ~65 ms of CPU per message.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

logger = logging.getLogger(__name__)

MAX_THREADS = 4  # parses at once per process: enough to fill a batch, few enough to bound memory

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def pool() -> ThreadPoolExecutor:
    """The process's parse threads (created on first use, so forks before that inherit none)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="nlu-parse")
        return _pool


def apply() -> None:
    """Make ``MessageProcessor.parse_message`` await the NLU graph run in :func:`pool` (idempotent)."""
    import rasa
    from rasa.core.processor import MessageProcessor

    if getattr(MessageProcessor.parse_message, "_runs_graph_in_pool", False):
        return
    if not rasa.__version__.startswith("3.6."):
        logger.warning("parse_threads: written for Rasa 3.6, found %s; not applied", rasa.__version__)
        return
    original = MessageProcessor.parse_message
    MessageProcessor.parse_message = _make_parse_message(original)  # type: ignore[method-assign]


def _make_parse_message(original: Any) -> Any:
    from rasa.core.processor import structlogger
    from rasa.shared.core.trackers import DialogueStateTracker

    @functools.wraps(original)
    async def parse_message(
        self: Any, message: Any, tracker: Any = None, only_output_properties: bool = True
    ) -> dict[str, Any]:
        if self.http_interpreter:
            return await original(self, message, tracker, only_output_properties)
        if tracker is None:
            tracker = DialogueStateTracker.from_events(message.sender_id, [])
        run = functools.partial(self._parse_message_with_graph, message, tracker, only_output_properties)
        context = contextvars.copy_context()
        parse_data = await asyncio.get_running_loop().run_in_executor(pool(), context.run, run)

        # From here on exactly Rasa 3.6's MessageProcessor.parse_message.
        self._update_full_retrieval_intent(parse_data)
        structlogger.debug(
            "processor.message.parse",
            parse_data_text=copy.deepcopy(parse_data["text"]),
            parse_data_intent=parse_data["intent"],
            parse_data_entities=copy.deepcopy(parse_data["entities"]),
        )
        self._check_for_unseen_features(parse_data)
        return parse_data

    parse_message._runs_graph_in_pool = True  # type: ignore[attr-defined]
    parse_message._unpatched = original  # type: ignore[attr-defined]
    return parse_message


def remove() -> None:
    """Undo :func:`apply` (for tests that compare with Rasa's own behaviour)."""
    from rasa.core.processor import MessageProcessor

    original = getattr(MessageProcessor.parse_message, "_unpatched", None)
    if original is not None:
        MessageProcessor.parse_message = original  # type: ignore[method-assign]
