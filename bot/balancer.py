"""A small HTTP load balancer in front of several Rasa replicas (``python -m bot balance``).

Why our own instead of nginx: it ships with the bot (no extra package in the native
start script or the image) and it knows the two things a Rasa front needs:

- **Socket.IO sessions are sticky.** The website chat speaks Socket.IO long-polling; a
  session exists in one replica's memory only. The balancer reads the session id from
  the handshake answer (``0{"sid": ...}``) and sends every later request of that session
  to the same replica. If that replica dies, the next request goes to another replica,
  which answers "unknown session" and the widget reconnects with a new handshake and the
  same conversation id (nothing the customer said is lost: it is in the tracker store).
- **One conversation prefers one replica.** REST messages (``{"sender": ...}``) and
  ``/conversations/<id>/...`` calls are routed by rendezvous hashing of the conversation
  id, so a conversation's turns usually meet a warm replica and rarely wait on Redis'
  lock. Correctness never depends on it: every replica can serve every conversation.

A replica that refuses connections or fails its health check (``GET /`` every two
seconds) is skipped until it answers again; a request that could not be *sent* is
retried on the next replica. A request that reached a replica and then failed is not
retried (the message may have been recorded) and gets a 502 with a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web

logger = logging.getLogger(__name__)

HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailers",
        "Transfer-Encoding", "Upgrade", "Host", "Content-Length",
    )
)  # fmt: skip
SOCKETIO_PREFIX = "/socket.io"
_SID = re.compile(rb'"sid"\s*:\s*"([^"]+)"')
_CONVERSATION_PATH = re.compile(r"^/conversations/([^/]+)/")
SESSION_TTL_S = 30 * 60.0  # a Socket.IO session idle this long is forgotten


@dataclass
class Backend:
    """One Rasa replica."""

    url: str
    healthy: bool = True
    in_flight: int = 0
    served: int = 0
    failures: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "url": self.url,
            "healthy": self.healthy,
            "in_flight": self.in_flight,
            "served": self.served,
            "failures": self.failures,
        }


@dataclass
class Router:
    """Chooses the replicas for a request, best first (pure logic, no I/O)."""

    backends: list[Backend]
    sessions: dict[str, tuple[Backend, float]] = field(default_factory=dict)
    _turn: itertools.count = field(default_factory=itertools.count)

    def candidates(self, path: str, query: str, body: bytes) -> list[Backend]:
        """Healthy replicas in the order to try (all replicas if none looks healthy)."""
        alive = [b for b in self.backends if b.healthy] or list(self.backends)
        if path.startswith(SOCKETIO_PREFIX):
            sid = (parse_qs(query).get("sid") or [""])[0]
            pinned = self.sessions.get(sid)
            if pinned is not None:
                self.sessions[sid] = (pinned[0], time.monotonic())
                return [pinned[0]] + [b for b in alive if b is not pinned[0]]
            return self._least_busy(alive)
        key = conversation_key(path, body)
        if key is not None:
            return sorted(alive, key=lambda b: _score(key, b.url), reverse=True)
        return self._least_busy(alive)

    def remember_session(self, answer: bytes, backend: Backend) -> None:
        """Pin a new Socket.IO session to the replica that created it."""
        match = _SID.search(answer[:512])
        if match:
            self.sessions[match.group(1).decode()] = (backend, time.monotonic())

    def forget_idle_sessions(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for sid, (_, seen) in list(self.sessions.items()):
            if now - seen > SESSION_TTL_S:
                del self.sessions[sid]

    def _least_busy(self, alive: list[Backend]) -> list[Backend]:
        start = next(self._turn) % len(alive)
        rotated = alive[start:] + alive[:start]  # round robin among equally busy replicas
        return sorted(rotated, key=lambda b: b.in_flight)


def conversation_key(path: str, body: bytes) -> str | None:
    """The conversation a request belongs to, when it says so."""
    match = _CONVERSATION_PATH.match(path)
    if match:
        return match.group(1)
    if path.startswith("/webhooks/") and body[:1] == b"{":
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            sender = json.loads(body).get("sender")
            if isinstance(sender, str) and sender:
                return sender
    return None


def _score(key: str, url: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{key}|{url}".encode(), digest_size=8).digest(), "big")


class Balancer:
    """The aiohttp application: proxies every request to a replica chosen by ``Router``."""

    def __init__(
        self,
        backend_urls: list[str],
        *,
        health_interval: float = 2.0,
        request_timeout: float = 120.0,
    ) -> None:
        if not backend_urls:
            raise ValueError("the balancer needs at least one replica URL (--replica http://host:port)")
        self.router = Router([Backend(url.rstrip("/")) for url in backend_urls])
        self.health_interval = health_interval
        self.request_timeout = request_timeout
        self._client: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024**2)
        app.router.add_get("/_balancer/health", self._health)
        app.router.add_route("*", "/{tail:.*}", self._proxy)
        app.cleanup_ctx.append(self._lifecycle)
        return app

    async def _lifecycle(self, _app: web.Application) -> AsyncIterator[None]:
        self._client = aiohttp.ClientSession(
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=self.request_timeout, sock_connect=3),
            connector=aiohttp.TCPConnector(limit=0),
        )
        await self._check_all()
        checker = asyncio.create_task(self._check_forever())
        yield
        checker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await checker
        await self._client.close()

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self.health_interval)
            await self._check_all()
            self.router.forget_idle_sessions()

    async def _check_all(self) -> None:
        await asyncio.gather(*(self._check(b) for b in self.router.backends))

    async def _check(self, backend: Backend) -> None:
        assert self._client is not None
        try:
            async with self._client.get(f"{backend.url}/", timeout=aiohttp.ClientTimeout(total=3)) as answer:
                healthy = answer.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            healthy = False
        if healthy != backend.healthy:
            logger.warning("replica %s is %s", backend.url, "back" if healthy else "down")
        backend.healthy = healthy

    async def _health(self, _request: web.Request) -> web.Response:
        backends = [b.as_dict() for b in self.router.backends]
        status = 200 if any(b.healthy for b in self.router.backends) else 503
        return web.json_response({"replicas": backends, "sessions": len(self.router.sessions)}, status=status)

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        assert self._client is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["X-Forwarded-For"] = request.remote or ""
        headers["X-Forwarded-Proto"] = request.scheme
        tried: list[str] = []
        for backend in self.router.candidates(request.path, request.query_string, body):
            tried.append(backend.url)
            backend.in_flight += 1
            try:
                async with self._client.request(
                    request.method,
                    f"{backend.url}{request.rel_url}",
                    headers=headers,
                    data=body or None,
                    allow_redirects=False,
                ) as answer:
                    payload = await answer.read()
                    reply_headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
                    status = answer.status
            except aiohttp.ClientConnectorError as exc:  # never reached the replica: try the next
                backend.healthy, backend.failures = False, backend.failures + 1
                logger.warning("replica %s refused the connection (%s); trying another", backend.url, exc)
                continue
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                backend.failures += 1
                logger.warning("replica %s failed mid-request: %r", backend.url, exc)
                return _error(502, f"the replica at {backend.url} failed while answering; try again")
            finally:
                backend.in_flight -= 1
            backend.served += 1
            if request.path.startswith(SOCKETIO_PREFIX) and "sid=" not in request.query_string:
                self.router.remember_session(payload, backend)
            return web.Response(status=status, body=payload, headers=reply_headers)
        return _error(503, f"no Rasa replica is reachable (tried {', '.join(tried) or 'none'})")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def run(backend_urls: list[str], host: str, port: int) -> None:
    """Serve until interrupted."""
    web.run_app(Balancer(backend_urls).app(), host=host, port=port, print=None, access_log=None)
