"""A terminal chat with the running bot over Rasa's REST channel."""

from __future__ import annotations

import json
from typing import Any

import requests


def send(webhook_url: str, sender: str, text: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Send one customer message; return the bot's replies (text, buttons, ...)."""
    reply = requests.post(webhook_url, json={"sender": sender, "message": text}, timeout=timeout)
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
        for key in ("image", "attachment", "custom"):
            if message.get(key):
                print(f"bot> ({key}: {json.dumps(message[key])})")
    return buttons


def chat(webhook_url: str, sender: str) -> None:
    """Read lines from the terminal until EOF or /quit; a number picks a button."""
    print(f"Chatting as '{sender}' with {webhook_url}. Type /quit to leave.")
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
            buttons = _show(send(webhook_url, sender, text))
        except requests.RequestException as exc:
            print(f"(could not reach the bot at {webhook_url}: {exc}; is it running?)")
