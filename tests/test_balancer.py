"""The balancer in front of Rasa replicas, against stand-in replicas over real HTTP.

The stand-ins answer like Rasa does where routing depends on it (``GET /`` health, the
Socket.IO handshake with its ``sid``); the production test runs the balancer in front of
real Rasa replicas.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import requests
from aiohttp import web

from bot.balancer import Backend, Balancer, Router, conversation_key
from tests.fakes.server import ThreadedServer


class StandInReplica(ThreadedServer):
    """Says who it is; hands out Socket.IO sessions and refuses ones it did not create."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.sessions: set[str] = set()
        self._ids = itertools.count(1)
        self.seen_headers: list[dict[str, str]] = []

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", lambda _r: web.Response(text=f"Hello from Rasa ({self.name})"))
        app.router.add_route("*", "/socket.io/", self._socketio)
        app.router.add_route("*", "/{tail:.*}", self._echo)
        return app

    async def _socketio(self, request: web.Request) -> web.Response:
        sid = request.query.get("sid")
        if sid is None:
            sid = f"{self.name}-{next(self._ids)}"
            self.sessions.add(sid)
            return web.Response(text='0{"sid":"' + sid + '","upgrades":[],"pingInterval":25000}')
        if sid not in self.sessions:
            return web.json_response("Invalid session", status=400)
        return web.Response(text=f"ok from {self.name}")

    async def _echo(self, request: web.Request) -> web.Response:
        self.seen_headers.append(dict(request.headers))
        return web.json_response({"replica": self.name, "body": (await request.read()).decode()})


class BalancerServer(ThreadedServer):
    def __init__(self, urls: list[str]) -> None:
        super().__init__()
        self.balancer = Balancer(urls, health_interval=0.2)

    def build_app(self) -> web.Application:
        return self.balancer.app()


@pytest.fixture
def replicas() -> Iterator[list[StandInReplica]]:
    started = [StandInReplica("a").start(), StandInReplica("b").start()]
    yield started
    for replica in started:
        replica.stop()


@pytest.fixture
def balancer(replicas: list[StandInReplica]) -> Iterator[str]:
    server = BalancerServer([f"http://127.0.0.1:{r.port}" for r in replicas]).start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


def post(url: str, sender: str) -> requests.Response:
    return requests.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": "hi"}, timeout=10)


def message(url: str, sender: str) -> str:
    answer = post(url, sender)
    assert answer.status_code == 200, answer.text
    return answer.json()["replica"]


def test_a_conversation_keeps_its_replica_and_conversations_spread_over_both(balancer: str) -> None:
    chosen = {f"customer-{n}": message(balancer, f"customer-{n}") for n in range(40)}
    assert set(chosen.values()) == {"a", "b"}
    assert all(message(balancer, sender) == replica for sender, replica in chosen.items())
    assert conversation_key("/conversations/maria/tracker/events", b"") == "maria"
    assert conversation_key("/webhooks/rest/webhook", b'{"sender": "james"}') == "james"
    assert conversation_key("/webhooks/rest/webhook", b"not json") is None


def test_socketio_sessions_stick_to_the_replica_that_created_them(balancer: str) -> None:
    for _ in range(6):  # handshakes alternate, each session stays where it was created
        handshake = requests.get(f"{balancer}/socket.io/?EIO=4&transport=polling", timeout=10)
        sid = handshake.text.split('"sid":"')[1].split('"')[0]
        for _ in range(3):
            poll = requests.get(f"{balancer}/socket.io/?EIO=4&transport=polling&sid={sid}", timeout=10)
            assert poll.status_code == 200, poll.text
            assert poll.text == f"ok from {sid.split('-')[0]}"
    assert requests.get(f"{balancer}/_balancer/health", timeout=10).json()["sessions"] == 6


def test_a_dead_replica_is_skipped_and_all_dead_is_a_clear_503(
    balancer: str, replicas: list[StandInReplica]
) -> None:
    replicas[0].stop()
    assert {message(balancer, f"customer-{n}") for n in range(20)} == {"b"}  # nothing lost
    health = requests.get(f"{balancer}/_balancer/health", timeout=10).json()
    assert [r["healthy"] for r in health["replicas"]] == [False, True]
    replicas[1].stop()
    answer = post(balancer, "x")
    assert answer.status_code == 503
    assert "no Rasa replica is reachable" in answer.json()["error"]
    assert requests.get(f"{balancer}/_balancer/health", timeout=10).status_code == 503


def test_requests_arrive_as_sent_with_forwarding_headers(
    balancer: str, replicas: list[StandInReplica]
) -> None:
    body = '{"sender": "maria", "message": "über 100 € — ok?"}'
    answer = requests.post(
        f"{balancer}/webhooks/rest/webhook?token=abc",
        data=body.encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer t"},
        timeout=10,
    )
    assert answer.json()["body"] == body
    headers = next(r for r in replicas if r.seen_headers).seen_headers[-1]
    assert headers["Authorization"] == "Bearer t"
    assert headers["X-Forwarded-For"] == "127.0.0.1"


def test_router_prefers_the_least_busy_replica_for_new_work() -> None:
    a, b = Backend("http://a"), Backend("http://b")
    router = Router([a, b])
    a.in_flight = 3
    assert router.candidates("/webhooks/socketio/widget.js", "", b"")[0] is b
    b.healthy = False
    assert router.candidates("/", "", b"") == [a]
    a.healthy = False  # nothing looks healthy: still try them all rather than refuse
    assert sorted(b.url for b in router.candidates("/", "", b"")) == ["http://a", "http://b"]
    with pytest.raises(ValueError, match="at least one replica"):
        Balancer([])
