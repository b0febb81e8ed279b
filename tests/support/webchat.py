"""A website-chat customer: a real Socket.IO client talking to Rasa's socketio channel.

Socket.IO is the channel where the bot can push a message at any time, so it is how the
tests see an agent's reply "arrive on the channel the customer used".

The server issues the session id (bot/channels/webchat_sessions.py), as it does for the
widget: ``session_id`` is the id to *ask* for (one this customer kept, to resume; or an
attacker's choice), and :attr:`WebChatCustomer.session_id` is the id the server confirmed,
i.e. the Rasa conversation id.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import socketio


class WebChatCustomer:
    def __init__(self, rasa_url: str, session_id: str | None = None, timeout: float = 20.0) -> None:
        self.requested = session_id
        self.session_id = ""  # the server's, once confirmed
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._confirmed = threading.Event()
        self.sio = socketio.Client(reconnection=True)
        self.sio.on("bot_uttered", self._on_bot_uttered)
        self.sio.on("session_confirm", self._on_confirm)
        self.sio.connect(rasa_url, transports=["polling"], wait_timeout=timeout)
        self.sio.emit("session_request", {"session_id": session_id})
        if not self._confirmed.wait(timeout):
            raise AssertionError(f"web chat session (asked for {session_id!r}) was not confirmed by Rasa")

    def _on_confirm(self, data: Any) -> None:
        self.session_id = str(data.get("session_id") if isinstance(data, dict) else data)
        self._confirmed.set()

    @property
    def resumed(self) -> bool:
        """Whether the server confirmed the id this customer asked for."""
        return self.requested is not None and self.session_id == self.requested

    def _on_bot_uttered(self, data: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(data)

    def say(self, text: str) -> None:
        self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})

    def texts(self) -> list[str]:
        with self._lock:
            return [str(message.get("text") or "") for message in self.received]

    def _first_message(
        self, matches: Callable[[dict[str, Any]], bool], timeout: float, after: int = 0
    ) -> dict[str, Any] | None:
        """The first message from index ``after`` on that ``matches``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = next((m for m in self.received[after:] if matches(m)), None)
            if found is not None:
                return found
            time.sleep(0.05)
        return None

    def wait_for(self, fragment: str, timeout: float = 30.0) -> str:
        """The first received message containing ``fragment`` (waits for it to arrive)."""
        found = self._first_message(lambda m: fragment in str(m.get("text") or ""), timeout)
        if found is None:
            raise AssertionError(f"{self.session_id} never received {fragment!r}; got {self.texts()}")
        return str(found.get("text") or "")

    def wait_for_handoff_state(self, state: str, timeout: float = 30.0) -> None:
        """Wait for the widget's ``{"handoff": {"state": ...}}`` message (it follows the text)."""
        if self._first_message(lambda m: (m.get("handoff") or {}).get("state") == state, timeout) is None:
            raise AssertionError(f"{self.session_id} never received the handoff state {state!r}")

    def ask(self, text: str, expect: str, timeout: float = 30.0) -> str:
        """Say something and wait for a reply containing ``expect`` that arrives after it."""
        before = len(self.texts())
        self.say(text)
        found = self._first_message(lambda m: expect in str(m.get("text") or ""), timeout, after=before)
        if found is None:
            raise AssertionError(f"after {text!r} expected {expect!r}; got {self.texts()[before:]}")
        return str(found.get("text") or "")

    def silent_for(self, seconds: float) -> list[str]:
        """What arrived during ``seconds`` of waiting (tests assert it is nothing)."""
        before = len(self.texts())
        time.sleep(seconds)
        return self.texts()[before:]

    def close(self) -> None:
        self.sio.disconnect()
