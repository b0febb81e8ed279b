"""The production front (deploy/haproxy.cfg) run by the real HAProxy, against stand-in replicas.

The stand-ins answer like Rasa does where the front depends on it (``GET /status``, the
engine.io handshake with its ``sid`` and ``io`` cookie, a WebSocket upgrade); the
production test (test_production_replicas.py) runs the same front before real Rasa
replicas. Under ``CI=true`` a missing haproxy fails these tests instead of skipping them.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
import requests
from aiohttp import web

from bot.front import FrontPorts, front_command, front_environment, read_replica_states, replica_states
from bot.processes import free_port
from tests.fakes.server import ThreadedServer
from tests.support.services import require_haproxy


class StandInReplica(ThreadedServer):
    """Says who it is; hands out engine.io sessions and refuses ones it did not create."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.sessions: set[str] = set()
        self._ids = itertools.count(1)
        self.seen: list[dict[str, str]] = []  # headers of every non-health request

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/status", lambda _r: web.json_response({"replica": self.name}))
        app.router.add_route("*", "/socket.io/", self._socketio)
        app.router.add_route("*", "/{tail:.*}", self._echo)
        return app

    async def _socketio(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(dict(request.headers))
        if request.query.get("transport") == "websocket":
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for frame in ws:
                await ws.send_str(f"{frame.data} from {self.name}")
            return ws
        sid = request.query.get("sid")
        if sid is None:  # a handshake, answered as engine.io 4 does (cookie on, as webchat.py sets it)
            sid = f"{self.name}-{next(self._ids)}"
            self.sessions.add(sid)
            answer = web.Response(text='0{"sid":"' + sid + '","upgrades":[],"pingInterval":25000}')
            answer.headers["Set-Cookie"] = f"io={sid}; Path=/; SameSite=Lax"
            return answer
        if sid not in self.sessions:
            return web.json_response("Invalid session", status=400)
        return web.Response(text=f"ok from {self.name}")

    async def _echo(self, request: web.Request) -> web.Response:
        self.seen.append(dict(request.headers))
        body = (await request.read()).decode()
        return web.json_response({"replica": self.name, "path": request.path_qs, "body": body})


@pytest.fixture
def replicas() -> Iterator[list[StandInReplica]]:
    started = [StandInReplica("a").start(), StandInReplica("b").start()]
    yield started
    for replica in started:
        replica.stop()


@pytest.fixture
def front(replicas: list[StandInReplica], tmp_path: Path) -> Iterator[FrontPorts]:
    """HAProxy with deploy/haproxy.cfg, exactly as bot.processes starts it."""
    binary = require_haproxy()
    ports = FrontPorts(public=free_port(), api=free_port(), stats=free_port())
    env = front_environment(os.environ, ports, [f"127.0.0.1:{r.port}" for r in replicas])
    log = (tmp_path / "haproxy.log").open("wb")
    process = subprocess.Popen(front_command(binary), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _answers(ports.health_url), f"HAProxy never became healthy; see {log.name}")
        yield ports
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
        log.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def wait_for(condition: Callable[[], bool], message: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(message)


def message(url: str, sender: str) -> str:
    answer = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "text": "hi"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["replica"]


def test_the_public_frontend_serves_customer_routes_only_and_the_internal_one_serves_rasa_api(
    front: FrontPorts,
) -> None:
    public, api = front.public_url, front.api_url
    for path in ("/webhooks/rest/webhook", "/webhooks/socketio/widget.js", "/webhooks/twitter/webhook"):
        assert requests.get(f"{public}{path}", timeout=10).status_code == 200, path
    attacks = [
        ("GET", "/conversations/maria/tracker"),
        ("POST", "/conversations/maria/tracker/events"),
        ("PUT", "/model"),
        ("GET", "/status"),
        ("GET", "/"),
        ("GET", "/webhooks/../conversations/maria/tracker"),
        ("GET", "/webhooks/%2e%2e/conversations/maria/tracker"),
        ("GET", "/socket.io/%2E%2E/model"),
        ("GET", "/webhooks/%2fconversations/maria/tracker"),
        ("GET", "/webhooks/./../conversations/maria/tracker"),
        ("GET", "//conversations/maria/tracker"),
    ]
    for method, path in attacks:
        # a raw request line: requests/urllib3 would normalise the dots away before sending
        answer = _raw(front.public, f"{method} {path} HTTP/1.1\r\nHost: bot\r\nContent-Length: 0\r\n\r\n")
        assert answer.startswith("HTTP/1.1 404"), (method, path, answer)
        assert '"replica"' not in answer, (method, path)
    for method, path in [("GET", "/conversations/maria/tracker"), ("PUT", "/model"), ("GET", "/status")]:
        answer = requests.request(method, f"{api}{path}", timeout=10)
        assert answer.status_code == 200, (method, path)


def _raw(port: int, request: str) -> str:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        return sock.recv(65536).decode(errors="replace")


def settled_message(front: FrontPorts, sender: str) -> str:
    """A message sent once HAProxy has let go of the previous one.

    The client has its answer a moment before HAProxy counts the request as finished; a
    request sent in that moment may spill to the other replica (hash-balance-factor), as
    it should under load. Stickiness is a property of an idle front, so it is tested there.
    """
    wait_for(
        lambda: all(r.up and r.in_flight == 0 for r in read_replica_states(front.stats_url)),
        f"the replicas never settled: {read_replica_states(front.stats_url)}",
    )
    return message(front.public_url, sender)


def test_a_conversation_keeps_its_replica_through_either_frontend_and_conversations_spread(
    front: FrontPorts,
) -> None:
    chosen = {f"customer-{n}": settled_message(front, f"customer-{n}") for n in range(200)}
    on_a = list(chosen.values()).count("a")
    assert 80 <= on_a <= 120, on_a  # an even split (hash ring weight 100: 108/92; weight 1: 86/114)
    again = {sender: settled_message(front, sender) for sender in reversed(chosen)}  # not round robin
    assert again == chosen
    for sender, replica in list(chosen.items())[:10]:  # an agent's reply meets the same replica
        answer = requests.post(f"{front.api_url}/conversations/{sender}/tracker/events", json={}, timeout=10)
        assert answer.json()["replica"] == replica


def test_socketio_sessions_stick_by_the_io_cookie_and_without_cookies_by_their_sid(
    front: FrontPorts, replicas: list[StandInReplica]
) -> None:
    url = f"{front.public_url}/socket.io/?EIO=4&transport=polling"
    # A browser on the bot's own site: the documented way, the replica's io cookie prefixed
    browser = requests.Session()
    handshake = browser.get(url, timeout=10)
    sid = handshake.text.split('"sid":"')[1].split('"')[0]
    owner = sid.split("-")[0]
    assert handshake.headers["Set-Cookie"].startswith(f"io=rasa{'ab'.index(owner) + 1}~{sid};")
    for _ in range(3):
        assert browser.get(f"{url}&sid={sid}", timeout=10).text == f"ok from {owner}"
    seen = next(r for r in replicas if r.name == owner).seen[-1]
    assert seen["Cookie"] == f"io={sid}"  # the replica gets its own cookie back, prefix stripped
    # A widget embedded in another site gets no cookies back: its sid alone keeps it sticky
    for _ in range(6):  # handshakes alternate, each session stays where it was created
        sid = requests.get(url, timeout=10).text.split('"sid":"')[1].split('"')[0]
        for _ in range(3):
            poll = requests.get(f"{url}&sid={sid}", timeout=10)
            assert poll.status_code == 200, poll.text
            assert poll.text == f"ok from {sid.split('-')[0]}"


def test_a_websocket_upgrade_passes_through_the_public_frontend(front: FrontPorts) -> None:
    async def talk() -> list[str]:
        async with aiohttp.ClientSession() as session:
            url = f"{front.public_url}/socket.io/?EIO=4&transport=websocket"
            async with session.ws_connect(url, timeout=10) as ws:
                heard = []
                for text in ("hello", "again"):
                    await ws.send_str(text)
                    heard.append((await ws.receive(timeout=10)).data)
                return heard

    heard = asyncio.run(talk())
    assert heard[0] in {"hello from a", "hello from b"}
    assert heard[1] == heard[0].replace("hello", "again")  # one tunnel, one replica


def test_a_dead_replica_is_skipped_and_all_dead_is_a_clear_503(
    front: FrontPorts, replicas: list[StandInReplica]
) -> None:
    replicas[0].stop()
    assert {message(front.public_url, f"customer-{n}") for n in range(20)} == {"b"}  # nothing lost
    wait_for(
        lambda: [r.up for r in read_replica_states(front.stats_url)] == [False, True],
        f"HAProxy did not mark the stopped replica down: {read_replica_states(front.stats_url)}",
    )
    served = {r.name: r.requests for r in read_replica_states(front.stats_url)}
    assert served["rasa2"] >= 20, served
    replicas[1].stop()
    answer = requests.post(f"{front.public_url}/webhooks/rest/webhook", json={"sender": "x"}, timeout=10)
    assert answer.status_code == 503
    assert "no Rasa replica is reachable" in answer.json()["error"]
    wait_for(lambda: requests.get(front.health_url, timeout=10).status_code == 503, "health stayed 200")


def test_requests_arrive_as_sent_with_forwarding_headers(
    front: FrontPorts, replicas: list[StandInReplica]
) -> None:
    body = '{"sender": "maria", "message": "über 100 € — ok?"}'
    answer = requests.post(
        f"{front.public_url}/webhooks/rest/webhook?token=abc",
        data=body.encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer t"},
        timeout=10,
    )
    assert answer.json()["body"] == body
    assert answer.json()["path"] == "/webhooks/rest/webhook?token=abc"
    headers = next(r for r in replicas if r.name == answer.json()["replica"]).seen[-1]
    assert headers["Authorization"] == "Bearer t"
    assert headers["X-Forwarded-For"] == "127.0.0.1"


def test_replica_states_read_haproxy_stats_csv() -> None:
    page = (
        "# pxname,svname,scur,stot,status,addr,\n"
        "public,FRONTEND,1,9,OPEN,,\n"
        "rasa,rasa1,1,7,UP,127.0.0.1:5015,\n"
        "rasa,rasa2,0,2,DOWN 1/2,127.0.0.1:5025,\n"
        "rasa,BACKEND,1,9,UP,,\n"
    )
    states = replica_states(page)
    assert [(s.name, s.address, s.requests, s.up, s.in_flight) for s in states] == [
        ("rasa1", "127.0.0.1:5015", 7, True, 1),
        ("rasa2", "127.0.0.1:5025", 2, False, 0),
    ]
