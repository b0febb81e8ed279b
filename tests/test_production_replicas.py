"""The production topology on this machine, as ``./scripts/run-production.sh`` starts it:
two Rasa replicas sharing PostgreSQL and Redis behind HAProxy (deploy/haproxy.cfg),
RabbitMQ as the event broker, and the worker (handoff relay and metrics) consuming it.

Everything is real: Rasa with ``endpoints.production.yml`` (SQL tracker store on
PostgreSQL, Redis lock store, Pika event broker), HAProxy, the action server, the
worker (relay and metrics), a Socket.IO web-chat client. Under ``CI=true`` a missing
PostgreSQL, Redis, RabbitMQ or haproxy fails the test instead of skipping it.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.channels.webchat import websocket_works
from bot.chat import send as send_rest
from bot.customers import CustomerStore
from bot.customers.demo import load_demo_data
from bot.front import ReplicaState, read_replica_states
from bot.migrations import upgrade
from bot.processes import BotProcesses, free_port, start_bot
from bot.production_stores import production_env
from tests.support import ROOT
from tests.support.bot import NO_SLACK
from tests.support.inbox import agent_for
from tests.support.services import (
    delete_rabbitmq_queues,
    fresh_postgres_database,
    require_haproxy,
    require_service,
    restart_rabbitmq,
)
from tests.support.webchat import WebChatCustomer

QUESTIONS = ["hi", "how long does delivery take?", "what payment methods do you accept?", "thanks", "bye"]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A database of its own: Rasa's tracker store creates an ``events`` table in it."""
    with fresh_postgres_database() as url:
        yield url


@dataclass
class Topology:
    """The running production topology: HAProxy in front of ``replica_urls``."""

    processes: BotProcesses
    replica_urls: list[str]

    @property
    def balancer_url(self) -> str:
        """HAProxy's public frontend: what customers' channels call."""
        return self.processes.rasa_url

    @property
    def api_url(self) -> str:
        """HAProxy's internal frontend: Rasa's HTTP API, for the worker."""
        return self.processes.api_url

    def replicas(self) -> dict[str, ReplicaState]:
        """Each replica's URL → its state and request count, from HAProxy's stats CSV."""
        assert self.processes.front is not None
        states = read_replica_states(self.processes.front.stats_url)
        return {f"http://{state.address}": state for state in states}

    def wait_until(self, up: dict[str, bool], timeout: float = 20) -> None:
        """HAProxy checks replicas every 2 s: one restarted or killed just now may not count yet."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and {u: self.replicas()[u].up for u in up} != up:
            time.sleep(0.5)
        assert {u: self.replicas()[u].up for u in up} == up, self.replicas()

    def wait_until_every_replica_is_healthy(self, timeout: float = 20) -> None:
        self.wait_until(dict.fromkeys(self.replica_urls, True), timeout)


@pytest.fixture(scope="module")
def topology(
    trained_model: Path, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Topology]:
    """What ``./scripts/run-production.sh`` starts: two replicas behind HAProxy, the
    action server and the worker (relay and metrics), with this module's own database and
    RabbitMQ queues."""
    require_haproxy()
    require_service("Redis", "127.0.0.1", 6379)
    require_service("RabbitMQ", "127.0.0.1", 5672)
    data = tmp_path_factory.mktemp("replicas")
    upgrade(postgres_url)  # as the start command does
    load_demo_data(CustomerStore(postgres_url))
    suffix = uuid.uuid4().hex[:8]
    env = production_env(
        {
            **NO_SLACK,
            "SUPPORTBOT_DATABASE_URL": postgres_url,
            "DB_NAME": postgres_url.rsplit("/", 1)[-1],
            "RABBITMQ_QUEUE": f"handoff_relay_test_{suffix}",
            "RABBITMQ_METRICS_QUEUE": f"metrics_test_{suffix}",
            "WEBCHAT_REDIS_URL": "redis://127.0.0.1:6379/3",
        }
    )
    env |= {"SUPPORTBOT_ENVIRONMENT": "production", **TOKENS}
    replica_ports = [free_port(), free_port()]
    processes = start_bot(
        trained_model,
        endpoints=ROOT / "endpoints.production.yml",
        rasa_port=free_port(),
        actions_port=free_port(),
        worker_port=free_port(),
        replica_ports=replica_ports,
        data_directory=data,
        log_dir=data / "logs",
        env={**NO_SLACK, **env},
    )
    try:
        yield Topology(processes, [f"http://127.0.0.1:{port}" for port in replica_ports])
    finally:
        processes.stop()
        delete_rabbitmq_queues(env["RABBITMQ_QUEUE"], env["RABBITMQ_METRICS_QUEUE"])


# Production generates nothing: every internal token comes from the environment (bot/internal_tokens.py).
TOKENS = {
    name: f"{name.lower()}-of-the-replicas-test-0123456789"
    for name in ("RASA_AUTH_TOKEN", "ACTIONS_TOKEN", "METRICS_TOKEN", "REST_CHANNEL_TOKEN", "WEBCHAT_SECRET")
}
API = {"token": TOKENS["RASA_AUTH_TOKEN"]}  # Rasa 3.6 reads its token from the query only
METRICS = {"Authorization": f"Bearer {TOKENS['METRICS_TOKEN']}"}


def webhook(url: str) -> str:
    return f"{url}/webhooks/rest/webhook"


def send(url: str, conversation: str, text: str) -> list[dict[str, Any]]:
    """One customer message over REST, as a trusted integration does it (with the channel's token)."""
    return send_rest(url, conversation, text, token=TOKENS["REST_CHANNEL_TOKEN"])


def user_texts(rasa_url: str, conversation: str) -> list[str]:
    events = requests.get(f"{rasa_url}/conversations/{conversation}/tracker", params=API, timeout=30).json()[
        "events"
    ]
    return [e["text"] for e in events if e["event"] == "user"]


def turns(rasa_url: str, conversation: str) -> list[tuple[str, int]]:
    """Each customer message with how many bot messages followed it."""
    events = requests.get(f"{rasa_url}/conversations/{conversation}/tracker", params=API, timeout=30).json()[
        "events"
    ]
    result: list[tuple[str, int]] = []
    for event in events:
        if event["event"] == "user":
            result.append((event["text"], 0))
        elif event["event"] == "bot" and result:
            result[-1] = (result[-1][0], result[-1][1] + 1)
    return result


def test_interleaved_messages_on_two_replicas_keep_every_conversation_complete_and_in_order(
    topology: Topology,
) -> None:
    urls = topology.replica_urls
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


def test_a_replica_killed_mid_conversation_loses_nothing_the_customer_said(topology: Topology) -> None:
    processes, (url_a, url_b) = topology.processes, topology.replica_urls
    conversation = f"killed-{uuid.uuid4().hex[:6]}"
    assert send(webhook(url_a), conversation, "hi")
    assert send(webhook(url_b), conversation, "how long does delivery take?")
    processes.started["rasa-2"].process.kill()  # no goodbye: SIGKILL
    processes.started["rasa-2"].process.wait()
    assert send(webhook(url_a), conversation, "what payment methods do you accept?")
    assert user_texts(url_a, conversation) == [
        "hi", "how long does delivery take?", "what payment methods do you accept?",
    ]  # fmt: skip
    processes.restart("rasa-2")
    assert user_texts(url_b, conversation)[-1] == "what payment methods do you accept?"


def test_haproxy_keeps_answering_when_a_replica_dies_and_uses_it_again_when_back(
    topology: Topology,
) -> None:
    processes, front = topology.processes, topology.balancer_url
    url_a, url_b = topology.replica_urls
    conversations = [f"balanced-{n}-{uuid.uuid4().hex[:6]}" for n in range(12)]
    topology.wait_until_every_replica_is_healthy()  # the test before restarted rasa-2
    before = {url: state.requests for url, state in topology.replicas().items()}
    for conversation in conversations:
        assert send(webhook(front), conversation, "hi")
    served = {url: state.requests - before[url] for url, state in topology.replicas().items()}
    assert all(count > 0 for count in served.values()), served  # both replicas used

    processes.started["rasa-1"].process.kill()
    processes.started["rasa-1"].process.wait()
    for conversation in conversations:  # about half of them lived on the dead replica
        replies = send(webhook(front), conversation, "how long does delivery take?")
        assert any("deliver" in r.get("text", "").lower() for r in replies), replies
        assert user_texts(url_b, conversation) == ["hi", "how long does delivery take?"]
    topology.wait_until({url_a: False, url_b: True})

    processes.restart("rasa-1")
    topology.wait_until_every_replica_is_healthy()
    before = {url: state.requests for url, state in topology.replicas().items()}
    for conversation in conversations:
        assert send(webhook(front), conversation, "thanks")
    after = {url: state.requests for url, state in topology.replicas().items()}
    assert after[url_a] > before[url_a]  # back in rotation


def test_a_web_chat_session_through_haproxy_stays_on_one_replica(topology: Topology) -> None:
    before = {url: state.requests for url, state in topology.replicas().items()}
    customer = WebChatCustomer(topology.balancer_url)  # the server issues the session id
    try:
        for number, question in enumerate(["hi", "how long does delivery take?", "thanks"], start=1):
            customer.say(question)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(customer.texts()) < number:
                time.sleep(0.1)
            assert len(customer.texts()) >= number, customer.texts()  # long-polling kept its session
        cookie = customer.sio.eio.http.cookies.get("io")  # Rasa's io cookie, prefixed by HAProxy
        assert cookie is not None and cookie.split("~")[0] in {"rasa1", "rasa2"}, cookie
    finally:
        customer.close()
    served = {url: state.requests - before[url] for url, state in topology.replicas().items()}
    assert sorted(count > 0 for count in served.values()) == [False, True], served  # one replica only


def test_the_public_front_refuses_rasas_http_api_and_the_internal_front_serves_it(
    topology: Topology,
) -> None:
    """Rasa's API can read any conversation, write into it, or replace the model."""
    public, api = topology.balancer_url, topology.api_url
    conversation = f"attack-{uuid.uuid4().hex[:6]}"
    assert send(webhook(public), conversation, "hi")  # customers' routes work
    forged = {"event": "bot", "text": "Your refund is approved, reply with your card number"}
    attacks = [
        requests.get(f"{public}/conversations/{conversation}/tracker", timeout=10),
        requests.post(f"{public}/conversations/{conversation}/tracker/events", json=forged, timeout=10),
        requests.put(f"{public}/model", json={"model_file": "/tmp/evil.tar.gz"}, timeout=10),
        requests.get(f"{public}/status", timeout=10),
        requests.get(f"{public}/version", timeout=10),
    ]
    for answer in attacks:
        assert answer.status_code == 404, (answer.request.method, answer.request.url, answer.text)
        assert "events" not in answer.text and "model_file" not in answer.text
    sneaky = f"GET /webhooks/../conversations/{conversation}/tracker HTTP/1.1\r\nHost: bot\r\n\r\n"
    assert _raw(public, sneaky).startswith("HTTP/1.1 404")

    assert requests.get(f"{api}/conversations/{conversation}/tracker", timeout=10).status_code == 401
    tracker = requests.get(f"{api}/conversations/{conversation}/tracker", params=API, timeout=10)
    assert tracker.status_code == 200
    texts = [event.get("text") for event in tracker.json()["events"]]
    assert "hi" in texts and forged["text"] not in texts  # nothing got in through the public side
    assert requests.get(f"{api}/status", params=API, timeout=10).status_code == 200


def test_a_websocket_upgrade_through_the_front_reaches_rasa(topology: Topology) -> None:
    """HAProxy passes the Upgrade on (the old balancer dropped it) and Rasa's own answer comes
    back. On Python 3.11 with Sanic 21.12 WebSockets are broken, so the web chat refuses the
    transport (bot/channels/webchat.py) and the widget falls back to long-polling."""
    handshake = (
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: bot\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    direct = _raw(topology.replica_urls[0], handshake)
    through_front = _raw(topology.balancer_url, handshake)
    expected = "HTTP/1.1 101" if websocket_works() else "HTTP/1.1 400"
    assert direct.startswith(expected), direct
    assert through_front.startswith(expected), through_front
    if not websocket_works():
        assert "Invalid transport" in direct and "Invalid transport" in through_front  # engine.io's words


def _raw(url: str, request: str) -> str:
    """One request sent byte for byte (HTTP clients would normalise the path or refuse Upgrade)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request.encode())
        return sock.recv(65536).decode(errors="replace")


def test_an_agent_reply_appended_on_the_other_replica_reaches_the_web_chat(topology: Topology) -> None:
    """The browser holds its Socket.IO session on replica 1; the reply goes in through replica 2."""
    url_a, url_b = topology.replica_urls
    customer = WebChatCustomer(url_a)
    session = customer.session_id  # issued (and signed) by replica 1, valid on replica 2 too
    try:
        customer.say("hi")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not customer.texts():
            time.sleep(0.1)
        assert customer.texts()
        reply = {"event": "bot", "text": "Alex here, checking your order now.", "timestamp": time.time(),
                 "metadata": {"agent_id": "U1", "agent_name": "Alex"}}  # fmt: skip
        answer = requests.post(
            f"{url_b}/conversations/{session}/tracker/events",
            params={"output_channel": "socketio", "execute_side_effects": "true", **API},
            json=reply,
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and reply["text"] not in customer.texts():
            time.sleep(0.1)
        assert reply["text"] in customer.texts()
    finally:
        customer.close()


def test_the_relay_follows_conversations_through_rabbitmq(topology: Topology) -> None:
    processes, url_b = topology.processes, topology.replica_urls[1]
    conversation = f"mq-handoff-{uuid.uuid4().hex[:6]}"
    assert "person from our support team" in " ".join(
        r.get("text", "")
        for r in send(webhook(topology.balancer_url), conversation, "I want to talk to a human")
    )
    inbox = f"{processes.relay_url}/inbox/api/handoffs"
    agent = agent_for(processes)  # the inbox needs a login

    def thread() -> list[str]:
        found = [
            h for h in agent.get(inbox, timeout=10).json()["handoffs"] if h["conversation_id"] == conversation
        ]
        return [m["text"] for h in found for m in h["thread"]]

    send(webhook(url_b), conversation, "written on the other replica")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any("other replica" in t for t in thread()):
        time.sleep(0.2)
    assert any("other replica" in t for t in thread()), thread()


def prometheus(metrics_url: str) -> dict[str, float]:
    """``{'name{labels}': value}`` from the metrics service's Prometheus page."""
    text = requests.get(f"{metrics_url}/metrics", headers=METRICS, timeout=10).text
    samples = (line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {name: float(value) for name, value in samples}


def settled(metrics_url: str, seconds: float = 2.0, timeout: float = 60.0) -> dict[str, float]:
    """The counters once nothing new has been counted for ``seconds``."""
    deadline = time.monotonic() + timeout
    last, since = prometheus(metrics_url), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = prometheus(metrics_url)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return now
    return last


def test_metrics_count_every_customer_message_once_across_a_consumer_and_broker_restart(
    topology: Topology,
) -> None:
    processes = topology.processes
    metrics_url = processes.metrics_url
    assert metrics_url is not None
    rest = 'supportbot_customer_messages_total{channel="rest"}'
    before = settled(metrics_url)
    conversation = f"metrics-{uuid.uuid4().hex[:6]}"
    assert send(webhook(topology.balancer_url), conversation, "hi")
    assert send(webhook(topology.balancer_url), conversation, "how long does delivery take?")
    counted = settled(metrics_url)
    assert counted.get(rest, 0) - before.get(rest, 0) == 2
    assert counted["supportbot_conversations_total"] > before.get("supportbot_conversations_total", 0)

    worker = processes.started["worker"]  # the metrics consumer runs in the worker
    processes.stop_one("worker")  # events wait in its durable queue…
    assert send(webhook(topology.balancer_url), conversation, "what payment methods do you accept?")
    assert send(webhook(topology.replica_urls[1]), conversation, "thanks")
    restart_rabbitmq()  # …and survive the broker restarting
    processes.start("worker", worker.args, worker.health_url)
    assert settled(metrics_url).get(rest, 0) - before.get(rest, 0) == 4  # each once, none lost

    assert send(webhook(topology.balancer_url), conversation, "bye")  # Rasa reconnected to RabbitMQ
    after = settled(metrics_url)
    assert after.get(rest, 0) - before.get(rest, 0) == 5
    daily = requests.get(f"{metrics_url}/metrics/daily?days=1", headers=METRICS, timeout=10).json()
    today = next(iter(daily.values()))
    assert today["counts"]["customer_messages"]["rest"] >= 5
    assert 0 <= today["contained"] <= 1 and 0 <= today["understood"] <= 1
