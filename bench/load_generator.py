"""The load the latency benchmark sends: realistic questions from many conversations at once.

Why a module: bench/latency.py starts servers and reports; what a "message under load" is
(the questions, a new customer every ``TURNS`` turns, what counts as an error) is here, so a
throughput benchmark can reuse the very same load. ``long_conversations`` sends the same
questions in long conversations of one customer each, to see what history length costs.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp

QUESTIONS = [
    "hi",
    "how long does delivery take?",
    "do you ship to canada?",
    "what payment methods do you accept?",
    "what is your return policy?",
    "is the hub compatible with alexa?",
    "what plans do you have?",
    "when are you open?",
    "thanks!",
]
TURNS = 10  # messages per conversation in the load test (a support chat is rarely longer)


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a process (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of latencies in seconds, in ms."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


async def send(
    session: aiohttp.ClientSession, webhook: str, body: dict[str, str], errors: dict[str, int]
) -> float:
    """One message over REST; its latency in s. A failure is counted in ``errors`` by kind
    ("HTTP 502", "empty reply", the exception's name): every failure counts, none is retried."""
    kind = None
    started = time.perf_counter()
    try:
        async with session.post(webhook, json=body) as reply:
            answer = await reply.json(content_type=None)
            if reply.status != 200:
                kind = f"HTTP {reply.status}"
            elif not answer:
                kind = "empty reply"
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        kind = type(exc).__name__
    elapsed = time.perf_counter() - started
    if kind is not None:
        errors[kind] = errors.get(kind, 0) + 1
    return elapsed


def _session(concurrency: int, headers: dict[str, str]) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=300)
    return aiohttp.ClientSession(
        timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency), headers=headers
    )


async def load(
    webhook: str, concurrency: int, messages: int, tag: str, headers: dict[str, str]
) -> dict[str, Any]:
    """``messages`` messages from ``concurrency`` conversations at once; latency per message."""
    latencies: list[float] = []
    errors: dict[str, int] = {}  # kind of failure -> count ("HTTP 502", "empty reply", ...)
    per_worker = max(1, messages // concurrency)

    async def conversation(session: aiohttp.ClientSession, number: int) -> None:
        for turn in range(per_worker):
            # A new customer every TURNS turns: Rasa reloads a conversation's whole history on
            # every message, so one endless conversation would measure history length, not load
            # (long_conversations measures that on its own).
            sender = f"bench-{tag}-{concurrency}-{number}-{turn // TURNS}"
            body = {"sender": sender, "message": QUESTIONS[(number + turn) % len(QUESTIONS)]}
            latencies.append(await send(session, webhook, body, errors))

    async with _session(concurrency, headers) as session:
        started = time.perf_counter()
        await asyncio.gather(*(conversation(session, n) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "concurrency": concurrency, "messages": len(latencies), "errors": sum(errors.values()),
        "error_kinds": errors,
        "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "mean_ms": statistics.fmean(latencies) * 1000, "msgs_per_s": len(latencies) / elapsed,
    }  # fmt: skip


def turn_windows(turns: int) -> dict[int, tuple[int, int]]:
    """The turns pooled for "turn 2", "turn T/2" and "turn T" (first and last turn, 1-based):
    three turns each, (1, 3), (29, 31), (58, 60) for 60 turns, so one slow reply is not the result."""
    middle = turns // 2
    return {2: (1, 3), middle: (middle - 1, middle + 1), turns: (turns - 2, turns)}


async def long_conversations(
    webhook: str, conversations: int, turns: int, tag: str, headers: dict[str, str]
) -> dict[str, Any]:
    """What a message costs as the conversation grows: ``conversations`` conversations one
    after another (concurrency 1), each ``turns`` turns of the same customer, cycling QUESTIONS.

    Why: Rasa loads a conversation's whole tracker and featurizes its history on every
    message, so turn 60 can cost more than turn 2; ``load`` starts a new customer every
    ``TURNS`` turns and cannot see that. The p50 of each window of ``turn_windows`` is pooled
    across the conversations. Failed replies are counted as in ``load`` (``send``).
    """
    if turns < 6:
        raise ValueError("long conversations need at least 6 turns (three windows of three turns)")
    per_turn: list[list[float]] = [[] for _ in range(turns)]  # per_turn[t - 1]: latencies of turn t
    errors: dict[str, int] = {}
    async with _session(1, headers) as session:
        started = time.perf_counter()
        for number in range(conversations):
            sender = f"bench-{tag}-long-{number}"
            for turn in range(turns):
                # Conversation n starts 3n questions further along the cycle: latency differs by
                # question, so each pooled window then holds a similar mix of questions.
                body = {"sender": sender, "message": QUESTIONS[(turn + 3 * number) % len(QUESTIONS)]}
                per_turn[turn].append(await send(session, webhook, body, errors))
        elapsed = time.perf_counter() - started
    windows = turn_windows(turns)
    p50 = {
        str(turn): statistics.median(x for t in range(first, last + 1) for x in per_turn[t - 1]) * 1000
        for turn, (first, last) in windows.items()
    }
    return {
        "conversations": conversations, "turns": turns, "messages": conversations * turns,
        "errors": sum(errors.values()), "error_kinds": errors,
        "windows": {str(turn): list(window) for turn, window in windows.items()},
        "p50_ms_at_turn": p50, "ratio_last_to_turn_2": p50[str(turns)] / p50["2"],
        "median_ms_per_turn": [statistics.median(values) * 1000 for values in per_turn],
        "msgs_per_s": conversations * turns / elapsed,
    }  # fmt: skip
