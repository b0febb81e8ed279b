"""Slack's Socket Mode, faked: ``apps.connections.open`` and the WebSocket it hands out.

The protocol (https://api.slack.com/apis/socket-mode), as the real slack_sdk client expects it:

1. The app calls ``apps.connections.open`` with its app-level token (``xapp-…``; a bot token is
   ``not_allowed_token_type``) and gets a one-time WebSocket URL (here ``ws://127.0.0.1…``).
2. On connecting, Slack sends ``{"type": "hello", …}``; then envelopes
   ``{"envelope_id", "type": "events_api" | "interactive", "payload", "accepts_response_payload"}``
   (Events API ones also ``retry_attempt`` / ``retry_reason``).
3. The app acknowledges each with ``{"envelope_id": …}`` within three seconds. An Events API
   envelope that is not acknowledged in time is sent again with ``retry_attempt`` + 1 (up to three
   retries); an interaction is not (the clicking user sees an error instead).
4. ``{"type": "disconnect", "reason": "refresh_requested"}`` asks the app to reconnect on a new URL.

Why a real WebSocket: the relay runs the real Bolt ``AsyncSocketModeHandler``; only a server that
speaks this protocol shows that acknowledgements are sent, late or missing ones are retried, and a
broken frame does not take the connection down. Records live under the fake's lock; the socket
work runs on the fake's event loop, and :meth:`SocketMode.deliver` blocks the (sync) test until
the envelope is acknowledged or given up on.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

#: Slack's limits: the acknowledgement deadline and how often an unacknowledged event is resent.
ACK_TIMEOUT = 3.0
MAX_RETRIES = 3


@dataclass
class Sent:
    """One envelope as sent, and its acknowledgement (None while there is none)."""

    envelope_id: str
    type: str
    kind: str
    retry_attempt: int
    connection: int
    ack: dict[str, Any] | None = None
    acked: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


class SocketMode:
    """The Socket Mode side of one fake workspace; see the module docstring."""

    def __init__(
        self,
        lock: threading.Lock,
        app_id: str,
        app_token: str,
        ws_root: Callable[[], str],
        loop: Callable[[], asyncio.AbstractEventLoop | None],
    ) -> None:
        self._lock = lock
        self.app_id = app_id
        self.app_token = app_token
        self._ws_root = ws_root
        self._loop = loop
        self.ack_timeout = ACK_TIMEOUT
        self.max_retries = MAX_RETRIES
        self._tickets: set[str] = set()
        self._sockets: dict[int, web.WebSocketResponse] = {}
        self._connections = 0  # accepted over the fake's lifetime
        self._refused = 0  # WebSocket handshakes without a valid ticket
        self._sent: list[Sent] = []
        self._strays: list[str] = []  # frames from the app that acknowledge nothing we sent

    # ------------------------------------------------------------------ apps.connections.open

    def open_connection(self, token: str | None) -> dict[str, Any]:
        """The ``apps.connections.open`` answer (lock held): a one-time URL for the app token only."""
        if not token:
            return {"ok": False, "error": "not_authed"}
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if token != self.app_token:
            return {"ok": False, "error": "invalid_auth"}
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return {"ok": True, "url": f"{self._ws_root()}/link/?ticket={ticket}&app_id={self.app_id}"}

    # ------------------------------------------------------------------ the WebSocket

    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        with self._lock:
            valid = ticket in self._tickets
            self._tickets.discard(ticket)
            if not valid:
                self._refused += 1
        if not valid:
            return web.Response(status=401, text="invalid or used ticket: call apps.connections.open")
        ws = web.WebSocketResponse(autoping=True)  # answers the client's pings with pongs
        await ws.prepare(request)
        with self._lock:
            self._connections += 1
            number = self._connections
            self._sockets[number] = ws
        hello = {
            "type": "hello",
            "num_connections": len(self._sockets),
            "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }
        try:
            await ws.send_str(json.dumps(hello))
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_frame(message.data)
        finally:
            with self._lock:
                self._sockets.pop(number, None)
        return ws

    def _on_frame(self, text: str) -> None:
        """An acknowledgement from the app (``{"envelope_id", "payload"?}``), or a stray frame."""
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        with self._lock:
            sent = None
            if isinstance(frame, dict) and isinstance(frame.get("envelope_id"), str):
                sent = next((s for s in self._sent if s.envelope_id == frame["envelope_id"]), None)
            if sent is None or sent.ack is not None:
                self._strays.append(text)
                return
            sent.ack = frame
        sent.acked.set()

    def _newest(self) -> tuple[int, web.WebSocketResponse] | None:
        with self._lock:
            live = [(n, ws) for n, ws in self._sockets.items() if not ws.closed]
        return max(live, key=lambda item: item[0]) if live else None

    async def _open_socket(self, timeout: float) -> tuple[int, web.WebSocketResponse] | None:
        """The newest open connection, waiting ``timeout`` for one (the app may be reconnecting)."""
        deadline = time.monotonic() + timeout
        while (found := self._newest()) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return found

    async def _deliver(
        self, kind: str, type_: str, payload: Any, retry_attempt: int, connect_timeout: float
    ) -> tuple[int, str]:
        retries = self.max_retries if type_ == "events_api" else 0
        for attempt in range(retry_attempt, retry_attempt + retries + 1):
            found = await self._open_socket(connect_timeout)
            if found is None:
                return 503, "no Socket Mode connection: is the app connected (SLACK_MODE=socket)?"
            number, ws = found
            sent = Sent(f"{uuid.uuid4()}", type_, kind, attempt, number)
            frame: dict[str, Any] = {
                "envelope_id": sent.envelope_id,
                "payload": payload,
                "type": type_,
                "accepts_response_payload": False,
            }
            if type_ == "events_api":
                frame.update(retry_attempt=attempt, retry_reason="timeout" if attempt else "")
            with self._lock:
                self._sent.append(sent)
            await ws.send_str(json.dumps(frame, separators=(",", ":")))
            try:
                await asyncio.wait_for(sent.acked.wait(), self.ack_timeout)
            except TimeoutError:
                continue
            return 200, json.dumps(sent.ack)
        return 408, f"{kind}: not acknowledged within {self.ack_timeout} s, {retries} retries"

    def _run(self, coroutine: Any, timeout: float) -> Any:
        loop = self._loop()
        if loop is None:
            coroutine.close()
            raise RuntimeError("the fake Slack is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

    # ------------------------------------------------------------------ what tests call

    def deliver(
        self, kind: str, type_: str, payload: Any, retry_attempt: int = 0, connect_timeout: float = 10
    ) -> tuple[int, str]:
        """Send an envelope as Slack would; (200, the ack) once acknowledged, else (408/503, why).

        Blocks while Slack would wait: up to ``ack_timeout`` per attempt, and for Events API
        envelopes ``max_retries`` more attempts with ``retry_attempt`` counting up.
        """
        attempts = (self.max_retries + 1) if type_ == "events_api" else 1
        budget = connect_timeout * attempts + self.ack_timeout * attempts + 10
        return self._run(self._deliver(kind, type_, payload, retry_attempt, connect_timeout), budget)

    def send_raw(self, text: str, connect_timeout: float = 10) -> None:
        """Send any text frame (a malformed or forged one) on the newest connection; expects nothing."""

        async def send() -> None:
            found = await self._open_socket(connect_timeout)
            if found is None:
                raise AssertionError("no Socket Mode connection to send on")
            await found[1].send_str(text)

        self._run(send(), connect_timeout + 5)

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the app to reconnect, as Slack does every few hours (``refresh_requested``)."""
        frame = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        self.send_raw(json.dumps(frame))

    def envelopes(self) -> list[dict[str, Any]]:
        """Every envelope sent, oldest first: envelope_id, type, kind, retry_attempt, connection, ack."""
        with self._lock:
            return [
                {"envelope_id": s.envelope_id, "type": s.type, "kind": s.kind,
                 "retry_attempt": s.retry_attempt, "connection": s.connection, "ack": s.ack}
                for s in self._sent
            ]  # fmt: skip

    def strays(self) -> list[str]:
        """Frames from the app that acknowledged nothing outstanding (unknown or repeated ids)."""
        with self._lock:
            return list(self._strays)

    def connections(self) -> tuple[int, int]:
        """(connections accepted so far, connections open now)."""
        with self._lock:
            return self._connections, sum(1 for ws in self._sockets.values() if not ws.closed)

    def refused(self) -> int:
        """WebSocket handshakes refused for a missing, wrong or reused ticket."""
        with self._lock:
            return self._refused

    def describe_state(self) -> list[str]:
        """Lines for the fake's ``describe()`` (called with the lock *not* held)."""
        accepted, live = self.connections()
        lines = [f"  socket mode: {accepted} connections accepted, {live} open, {self.refused()} refused"]
        for s in self.envelopes()[-20:]:
            acked = "acked" if s["ack"] is not None else "NOT acked"
            lines.append(f"  envelope {s['kind']} ({s['type']}, retry {s['retry_attempt']}) {acked}")
        return lines
