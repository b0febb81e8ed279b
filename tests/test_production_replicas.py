"""The production topology on this machine: two Rasa replicas sharing PostgreSQL and Redis,
RabbitMQ as the event broker, and the handoff relay consuming it.

Everything is real: Rasa with ``endpoints.production.yml`` (SQL tracker store on
PostgreSQL, Redis lock store, Pika event broker), the action server and the relay. Under
``CI=true`` a missing PostgreSQL, Redis or RabbitMQ fails the test instead of skipping it.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from bot.chat import send
from bot.customers import CustomerStore
from bot.customers.demo import load_demo_data
from bot.processes import BotProcesses, free_port, start_bot
from tests.conftest import NO_SLACK, ROOT, fresh_postgres_database, require_service

QUESTIONS = ["hi", "how long does delivery take?", "what payment methods do you accept?", "thanks", "bye"]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A database of its own: Rasa's tracker store creates an ``events`` table in it."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def replicas(
    trained_model: Path, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BotProcesses, str]]:
    """Replica A (with actions and relay) and replica B; yields (processes, B's URL)."""
    require_service("Redis", "127.0.0.1", 6379)
    require_service("RabbitMQ", "127.0.0.1", 5672)
    data = tmp_path_factory.mktemp("replicas")
    load_demo_data(CustomerStore(postgres_url))
    database = postgres_url.rsplit("/", 1)[-1]
    queue = f"handoff_relay_test_{uuid.uuid4().hex[:8]}"
    env = {
        **NO_SLACK,
        "SUPPORTBOT_DATABASE_URL": postgres_url,
        "DB_HOST": "127.0.0.1", "DB_PORT": "5432", "DB_USER": "postgres", "DB_PASSWORD": "",
        "DB_NAME": database,
        "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379",
        "RABBITMQ_HOST": "127.0.0.1", "RABBITMQ_PORT": "5672", "RABBITMQ_USER": "guest",
        "RABBITMQ_PASSWORD": "guest", "RABBITMQ_QUEUE": queue,
        "ACTION_ENDPOINT_URL": "http://127.0.0.1:5055/webhook",  # replaced per run by start_bot
    }  # fmt: skip
    processes = start_bot(
        trained_model,
        endpoints=ROOT / "endpoints.production.yml",
        rasa_port=free_port(),
        actions_port=free_port(),
        relay_port=free_port(),
        data_directory=data,
        log_dir=data / "logs",
        env=env,
    )
    try:
        port_b = free_port()
        args = list(processes.started["rasa"].args)
        args[args.index("--port") + 1] = str(port_b)
        url_b = f"http://127.0.0.1:{port_b}"
        processes.start("rasa-b", args, f"{url_b}/status")
        yield processes, url_b
    finally:
        processes.stop()
        subprocess.run(["rabbitmqctl", "delete_queue", queue], capture_output=True, timeout=60, check=False)


def webhook(url: str) -> str:
    return f"{url}/webhooks/rest/webhook"


def user_texts(rasa_url: str, conversation: str) -> list[str]:
    events = requests.get(f"{rasa_url}/conversations/{conversation}/tracker", timeout=30).json()["events"]
    return [e["text"] for e in events if e["event"] == "user"]


def turns(rasa_url: str, conversation: str) -> list[tuple[str, int]]:
    """Each customer message with how many bot messages followed it."""
    events = requests.get(f"{rasa_url}/conversations/{conversation}/tracker", timeout=30).json()["events"]
    result: list[tuple[str, int]] = []
    for event in events:
        if event["event"] == "user":
            result.append((event["text"], 0))
        elif event["event"] == "bot" and result:
            result[-1] = (result[-1][0], result[-1][1] + 1)
    return result


def test_interleaved_messages_on_two_replicas_keep_every_conversation_complete_and_in_order(
    replicas: tuple[BotProcesses, str],
) -> None:
    processes, url_b = replicas
    urls = [processes.rasa_url, url_b]
    conversations = [f"replica-{n}-{uuid.uuid4().hex[:6]}" for n in range(6)]

    def talk(conversation: str) -> None:
        for step, question in enumerate(QUESTIONS):  # alternate replicas turn by turn
            assert send(webhook(urls[step % 2]), conversation, question), question

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(talk, conversations))
    for conversation in conversations:
        for url in urls:  # both replicas see the same, complete conversation
            recorded = turns(url, conversation)
            assert [text for text, _ in recorded] == QUESTIONS, recorded
            assert all(replies >= 1 for _, replies in recorded), recorded


def test_a_replica_killed_mid_conversation_loses_nothing_the_customer_said(
    replicas: tuple[BotProcesses, str],
) -> None:
    processes, url_b = replicas
    conversation = f"killed-{uuid.uuid4().hex[:6]}"
    assert send(webhook(processes.rasa_url), conversation, "hi")
    assert send(webhook(url_b), conversation, "how long does delivery take?")
    processes.started["rasa-b"].process.kill()  # no goodbye: SIGKILL
    processes.started["rasa-b"].process.wait()
    assert send(webhook(processes.rasa_url), conversation, "what payment methods do you accept?")
    assert user_texts(processes.rasa_url, conversation) == [
        "hi", "how long does delivery take?", "what payment methods do you accept?",
    ]  # fmt: skip
    processes.restart("rasa-b")
    assert user_texts(url_b, conversation)[-1] == "what payment methods do you accept?"


def test_the_relay_follows_conversations_through_rabbitmq(replicas: tuple[BotProcesses, str]) -> None:
    processes, url_b = replicas
    conversation = f"mq-handoff-{uuid.uuid4().hex[:6]}"
    assert "person from our support team" in " ".join(
        r.get("text", "")
        for r in send(webhook(processes.rasa_url), conversation, "I want to talk to a human")
    )
    inbox = f"{processes.relay_url}/inbox/api/handoffs"

    def thread() -> list[str]:
        found = [
            h
            for h in requests.get(inbox, timeout=10).json()["handoffs"]
            if h["conversation_id"] == conversation
        ]
        return [m["text"] for h in found for m in h["thread"]]

    send(webhook(url_b), conversation, "written on the other replica")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any("other replica" in t for t in thread()):
        time.sleep(0.2)
    assert any("other replica" in t for t in thread()), thread()
