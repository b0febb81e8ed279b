"""bot/speedups/parse_threads.py: the NLU graph runs in the parse pool, with Rasa's own result.

Loads the shipped model in this process (as bot/evaluation.py does) and parses the same
messages with Rasa's ``MessageProcessor.parse_message`` and with the patched one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.speedups import parse_threads

MESSAGES = [
    "where is my order HL-12345?",
    "I want a refund, the speaker arrived broken",
    "hi",
    "can I talk to a human please",
    "THIS IS THE THIRD TIME I ASK, WHERE IS MY PACKAGE",
    "my email is maria@example.com",
    "/greet",
    "asdf qwerty zxcv",
]


@pytest.fixture(scope="module")
def agent(trained_model: Path) -> Any:
    from rasa.core.agent import Agent

    return Agent.load(str(trained_model))


@pytest.fixture
def patched() -> Iterator[None]:
    parse_threads.apply()
    yield
    parse_threads.remove()


def parse(agent: Any, texts: list[str]) -> list[dict[str, Any]]:
    """``texts`` parsed one after the other, each in a conversation of its own."""
    from rasa.core.channels.channel import UserMessage

    async def run() -> list[dict[str, Any]]:
        return [
            await agent.processor.parse_message(UserMessage(t, sender_id=f"s{i}"))
            for i, t in enumerate(texts)
        ]

    return asyncio.run(run())


def assert_same_parse(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Equal, confidences to 1e-5 (a message batched with others is encoded with padding)."""
    assert got.keys() == want.keys()
    for key, value in want.items():
        if key == "intent":
            assert got[key]["name"] == value["name"]
            assert got[key]["confidence"] == pytest.approx(value["confidence"], abs=1e-5)
        elif key == "intent_ranking":  # near-equal tail confidences may swap places: compare by name
            ranking = {row["name"]: row["confidence"] for row in got[key]}
            wanted = {row["name"]: row["confidence"] for row in value}
            for name in ranking.keys() | wanted.keys():
                assert ranking.get(name, 0.0) == pytest.approx(wanted.get(name, 0.0), abs=1e-4), name
        else:
            assert got[key] == value, key


def test_apply_is_idempotent_and_remove_restores_rasa(patched: None) -> None:
    from rasa.core.processor import MessageProcessor

    patched_method = MessageProcessor.parse_message
    parse_threads.apply()
    assert MessageProcessor.parse_message is patched_method
    parse_threads.remove()
    assert not getattr(MessageProcessor.parse_message, "_runs_graph_in_pool", False)
    parse_threads.apply()


def test_the_patched_processor_parses_exactly_like_rasa(agent: Any) -> None:
    want = parse(agent, MESSAGES)
    parse_threads.apply()
    try:
        got = parse(agent, MESSAGES)
    finally:
        parse_threads.remove()
    assert got == want
    assert want[0]["intent"]["name"] and want[-2]["intent"]["name"] == "greet"


def test_the_graph_runs_in_the_pool_and_concurrent_messages_overlap(
    agent: Any, patched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = parse(agent, MESSAGES)
    processor = agent.processor
    original = processor._parse_message_with_graph
    threads: set[str] = set()
    state = {"running": 0, "most": 0}
    lock = threading.Lock()

    def recording(*args: Any, **kwargs: Any) -> dict[str, Any]:
        with lock:
            threads.add(threading.current_thread().name)
            state["running"] += 1
            state["most"] = max(state["most"], state["running"])
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                state["running"] -= 1

    monkeypatch.setattr(processor, "_parse_message_with_graph", recording)
    loop_threads: set[str] = set()

    async def run() -> list[dict[str, Any]]:
        from rasa.core.channels.channel import UserMessage

        loop_threads.add(threading.current_thread().name)
        calls = [
            processor.parse_message(UserMessage(text, sender_id=f"c{i}"))
            for i, text in enumerate(MESSAGES * 3)
        ]
        return list(await asyncio.gather(*calls))

    got = asyncio.run(run())
    for result, expected in zip(got, want * 3, strict=True):
        assert_same_parse(result, expected)
    assert threads and all(name.startswith("nlu-parse") for name in threads), threads
    assert not threads & loop_threads
    assert 1 < state["most"] <= parse_threads.MAX_THREADS
