"""What every fake service shares: an aiohttp app on a daemon thread, and the test-side tools.

Sync tests (and child processes) talk to a fake over real HTTP while the test itself stays
synchronous. ``ThreadedServer`` is the lifecycle; ``FakeService`` adds what the Slack and X
fakes both need: a lock around recorded state, the API calls they saw, injected faults and
outages, signed deliveries into the app under test, and ``wait_for`` that fails with
``describe()`` (each fake's state) so a timed-out test says what did happen.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from types import TracebackType
from typing import Any, NamedTuple, Self, TypeVar

from aiohttp import web

T = TypeVar("T")


class ThreadedServer:
    """Start/stop/context-manager lifecycle around ``build_app()`` on ``host:port``."""

    host: str
    port: int

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def build_app(self) -> web.Application:
        raise NotImplementedError

    def start(self) -> Self:
        """Bind the port (0 = any free one) and serve from a daemon thread until `stop()`."""
        name = type(self).__name__
        if self._thread is not None:
            raise RuntimeError(f"{name} is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        errors: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(sock, ready, errors), name=f"{name}-{self.port}", daemon=True
        )
        self._thread.start()
        if not ready.wait(10) or errors:
            self.stop()
            raise RuntimeError(f"{name} failed to start: {errors or 'timeout'}")
        return self

    def stop(self) -> None:
        """Stop serving and join the thread; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT` (no trailing slash)."""
        if not self.port:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://{self.host}:{self.port}"

    def _serve(self, sock: socket.socket, ready: threading.Event, errors: list[BaseException]) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            self._runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=0.5)
            loop.run_until_complete(self._runner.setup())
            loop.run_until_complete(web.SockSite(self._runner, sock).start())
        except BaseException as exc:  # reported to start() instead of dying silently in the thread
            errors.append(exc)
            sock.close()
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._runner.cleanup())
            loop.close()


class Call(NamedTuple):
    """One API request as a fake saw it (failed and refused ones included).

    ``endpoint`` is the Slack method (``chat.postMessage``) or the X endpoint key (``dm_create``).
    """

    endpoint: str
    status: int
    params: dict[str, Any]
    body: Any = None


class Delivery(NamedTuple):
    """One request a fake sent into the app under test, and how the app answered."""

    kind: str
    url: str
    status: int
    body: str


class Fault(NamedTuple):
    """An injected failure: answer ``status`` (``Retry-After: retry_after`` on 429)."""

    status: int
    retry_after: int = 1


class FakeService(ThreadedServer):
    """A fake of a third-party API: recorded calls, faults, outages, deliveries, ``wait_for``.

    Subclasses hold their own state under ``self._lock`` and describe it in ``describe_state``.
    """

    user_agent = "FakeService"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._deliveries: list[Delivery] = []
        self._faults: dict[str, list[Fault]] = {}
        self._down = False

    # ------------------------------------------------------------------ faults

    def fail(self, endpoint: str, status: int = 503, times: int = 1, retry_after: int = 1) -> None:
        """Make the next `times` calls of `endpoint` fail with HTTP `status`."""
        with self._lock:
            self._faults[endpoint] = [Fault(status, retry_after)] * times

    def set_down(self, down: bool = True) -> None:
        """While down, every API call answers 503 (an outage, not a per-endpoint fault)."""
        with self._lock:
            self._down = down

    def _take_fault(self, endpoint: str) -> Fault | None:
        """The failure this call gets, if any (lock held): the outage first, then injected faults."""
        if self._down:
            return Fault(503)
        queued = self._faults.get(endpoint)
        return queued.pop(0) if queued else None

    # ------------------------------------------------------------------ queries

    def api_calls(self, endpoint: str | None = None) -> list[Call]:
        """The recorded calls of one endpoint (all calls if None), oldest first."""
        with self._lock:
            return [c for c in self._calls if endpoint is None or c.endpoint == endpoint]

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10, interval: float = 0.02) -> T:
        """Poll `predicate()` until truthy and return it; on timeout fail with the recorded state."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise AssertionError(f"condition not met within {timeout} s\n{self.describe()}")
            time.sleep(interval)

    def describe(self) -> str:
        """Human-readable dump of the fake's state, its last API calls and deliveries."""
        with self._lock:
            calls, deliveries = list(self._calls), list(self._deliveries)
        lines = [f"{type(self).__name__} state ({len(calls)} API calls):", *self.describe_state()]
        for c in calls[-30:]:
            detail = json.dumps(c.body if c.body is not None else c.params, default=str)[:160]
            lines.append(f"  call {c.endpoint} -> {c.status} {detail}")
        for d in deliveries[-20:]:
            lines.append(f"  sent {d.kind} to {d.url} -> {d.status} {d.body[:120]!r}")
        return "\n".join(lines)

    def describe_state(self) -> list[str]:
        """Lines about the subclass's own records (messages, DMs, tweets…)."""
        return []

    # ------------------------------------------------------------------ the service -> the app

    def deliver(
        self, kind: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float = 10
    ) -> tuple[int, str]:
        """Send a request into the app (GET without a body) and record it; returns (status, text)."""
        request = urllib.request.Request(url, data=body, method="GET" if body is None else "POST")
        request.add_header("User-Agent", self.user_agent)
        for name, value in headers.items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8", "replace")
        with self._lock:
            self._deliveries.append(Delivery(kind, url, status, text))
        return status, text


def compact(value: Any) -> bytes:
    """JSON the way Slack and X send it (no spaces)."""
    return json.dumps(value, separators=(",", ":")).encode()
