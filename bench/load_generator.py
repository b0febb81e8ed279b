"""The load the latency benchmark sends: realistic questions from many conversations at once.

Why a module: bench/latency.py starts servers and reports; what a "message under load" is
(the questions, a new customer every ``TURNS`` turns, what counts as an error) is here, so a
throughput benchmark can reuse the very same load.
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


async def load(
    webhook: str, concurrency: int, messages: int, tag: str, headers: dict[str, str]
) -> dict[str, Any]:
    """``messages`` messages from ``concurrency`` conversations at once; latency per message."""
    latencies: list[float] = []
    errors: dict[str, int] = {}  # kind of failure -> count ("HTTP 502", "empty reply", ...)
    per_worker = max(1, messages // concurrency)

    def failed(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    async def conversation(session: aiohttp.ClientSession, number: int) -> None:
        for turn in range(per_worker):
            # A new customer every TURNS turns: Rasa reloads a conversation's whole history on
            # every message, so one endless conversation would measure history length, not load.
            sender = f"bench-{tag}-{concurrency}-{number}-{turn // TURNS}"
            body = {"sender": sender, "message": QUESTIONS[(number + turn) % len(QUESTIONS)]}
            started = time.perf_counter()
            try:
                async with session.post(webhook, json=body) as reply:
                    answer = await reply.json(content_type=None)
                    if reply.status != 200:
                        failed(f"HTTP {reply.status}")
                    elif not answer:
                        failed("empty reply")
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                failed(type(exc).__name__)
            latencies.append(time.perf_counter() - started)

    timeout = aiohttp.ClientTimeout(total=300)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector, headers=headers) as session:
        started = time.perf_counter()
        await asyncio.gather(*(conversation(session, n) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

    return {
        "concurrency": concurrency, "messages": len(latencies), "errors": sum(errors.values()),
        "error_kinds": errors,
        "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
        "mean_ms": statistics.fmean(latencies) * 1000, "msgs_per_s": len(latencies) / elapsed,
    }  # fmt: skip
