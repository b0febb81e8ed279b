"""A website-chat customer: a real Socket.IO client talking to Rasa's socketio channel.

Socket.IO is the channel where the bot can push a message at any time, so it is how the
tests see an agent's reply "arrive on the channel the customer used".
"""

from __future__ import annotations

import threading
import time
from typing import Any

import socketio


class WebChatCustomer:
    def __init__(self, rasa_url: str, session_id: str, timeout: float = 20.0) -> None:
        self.session_id = session_id
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._confirmed = threading.Event()
        self.sio = socketio.Client(reconnection=True)
        self.sio.on("bot_uttered", self._on_bot_uttered)
        self.sio.on("session_confirm", lambda _data: self._confirmed.set())
        self.sio.connect(rasa_url, transports=["polling"], wait_timeout=timeout)
        self.sio.emit("session_request", {"session_id": session_id})
        if not self._confirmed.wait(timeout):
            raise AssertionError(f"web chat session {session_id} was not confirmed by Rasa")

    def _on_bot_uttered(self, data: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(data)

    def say(self, text: str) -> None:
        self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})

    def texts(self) -> list[str]:
        with self._lock:
            return [str(message.get("text") or "") for message in self.received]

    def wait_for(self, fragment: str, timeout: float = 30.0) -> str:
        """The first received message containing ``fragment`` (waits for it to arrive)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for text in self.texts():
                if fragment in text:
                    return text
            time.sleep(0.05)
        raise AssertionError(f"{self.session_id} never received {fragment!r}; got {self.texts()}")

    def wait_for_handoff_state(self, state: str, timeout: float = 30.0) -> None:
        """Wait for the widget's ``{"handoff": {"state": ...}}`` message (it follows the text)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if any((m.get("handoff") or {}).get("state") == state for m in self.received):
                    return
            time.sleep(0.05)
        raise AssertionError(f"{self.session_id} never received the handoff state {state!r}")

    def ask(self, text: str, expect: str, timeout: float = 30.0) -> str:
        """Say something and wait for a reply containing ``expect`` that arrives after it."""
        before = len(self.texts())
        self.say(text)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for reply in self.texts()[before:]:
                if expect in reply:
                    return reply
            time.sleep(0.05)
        raise AssertionError(f"after {text!r} expected {expect!r}; got {self.texts()[before:]}")

    def silent_for(self, seconds: float) -> list[str]:
        """What arrived during ``seconds`` of waiting (tests assert it is nothing)."""
        before = len(self.texts())
        time.sleep(seconds)
        return self.texts()[before:]

    def close(self) -> None:
        self.sio.disconnect()
