"""A terminal chat with the running bot over Rasa's REST channel.

REST only returns the bot's replies to each message, so messages that arrive on their own
(an agent's reply during a handoff, the bot coming back afterwards) are picked up by
watching the conversation's tracker in the background.

The REST channel only answers requests with ``Authorization: Bearer <REST_CHANNEL_TOKEN>``
(bot/channels/rest.py); :func:`send` sends this installation's token
(:func:`bot.internal_tokens.internal_tokens`) unless given another.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import requests

HANDOFF_STATES = {
    "waiting": "waiting for a person from the support team …",
    "agent": "you are now chatting with {agent} from support",
    "bot": "you are back with the assistant",
}


def rest_headers(token: str | None = None) -> dict[str, str]:
    """The REST channel's credential: ``token``, or this installation's REST_CHANNEL_TOKEN."""
    if token is None:
        from bot.internal_tokens import internal_tokens

        token = internal_tokens().rest_token
    return {"Authorization": f"Bearer {token}"}


def send(
    webhook_url: str, sender: str, text: str, timeout: float = 30.0, token: str | None = None
) -> list[dict[str, Any]]:
    """Send one customer message; return the bot's replies (text, buttons, ...)."""
    reply = requests.post(
        webhook_url, json={"sender": sender, "message": text}, headers=rest_headers(token), timeout=timeout
    )
    reply.raise_for_status()
    return reply.json()


def _show(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    buttons: list[dict[str, Any]] = []
    for message in messages:
        if message.get("text"):
            print(f"bot> {message['text']}")
        for button in message.get("buttons") or []:
            buttons.append(button)
            print(f"     [{len(buttons)}] {button.get('title')}")
        handoff = (message.get("custom") or {}).get("handoff")
        if handoff:
            print("     (" + HANDOFF_STATES.get(str(handoff.get("state")), "handoff").format(**handoff) + ")")
            continue
        for key in ("image", "attachment", "custom"):
            if message.get(key):
                print(f"bot> ({key}: {json.dumps(message[key])})")
    return buttons


class TrackerWatcher:
    """Prints bot messages that were not replies to something the customer just sent."""

    def __init__(self, webhook_url: str, sender: str, interval: float = 1.0) -> None:
        base = webhook_url.split("/webhooks/")[0]
        self.url = f"{base}/conversations/{requests.utils.quote(sender, safe='')}/tracker"
        from bot.internal_tokens import internal_tokens

        self.params = {"token": internal_tokens().rasa_auth_token}  # Rasa's API: ?token= only
        self.interval = interval
        self.lock = threading.Lock()
        self.seen = self._count()
        self.stopped = threading.Event()

    def _events(self) -> list[dict[str, Any]]:
        try:
            return requests.get(self.url, params=self.params, timeout=5).json().get("events") or []
        except (requests.RequestException, ValueError):
            return []

    def _count(self) -> int:
        return len(self._events())

    def mark_seen(self) -> None:
        """Everything up to now was shown as the reply to the customer's message."""
        self.seen = self._count()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            with self.lock:
                events = self._events()
                for event in events[self.seen :]:
                    if event.get("event") == "bot" and event.get("text"):
                        agent = (event.get("metadata") or {}).get("agent_name")
                        print(f"\n{agent + ' (support)' if agent else 'bot'}> {event['text']}\nyou> ", end="")
                self.seen = max(self.seen, len(events))


def chat(webhook_url: str, sender: str) -> None:
    """Read lines from the terminal until EOF or /quit; a number picks a button."""
    print(f"Chatting as '{sender}' with {webhook_url}. Type /quit to leave.")
    watcher = TrackerWatcher(webhook_url, sender)
    threading.Thread(target=watcher.run, daemon=True).start()
    buttons: list[dict[str, Any]] = []
    while True:
        try:
            text = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if text in ("/quit", "/exit"):
            return
        if text.isdigit() and 0 < int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        try:
            with watcher.lock:
                buttons = _show(send(webhook_url, sender, text))
                watcher.mark_seen()
        except requests.RequestException as exc:
            print(f"(could not reach the bot at {webhook_url}: {exc}; is it running?)")
