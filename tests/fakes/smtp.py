"""A mailbox for tests: a real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives.

The bot's own SMTP client (bot/mail.py, ``smtplib``) talks to it over TCP exactly as to a
mail provider; tests read the one-time code out of the received mail like a customer would.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from bot.processes import free_port

CODE = re.compile(r"\b(\d{6})\b")
SENDER = "support@hearthlink.example"


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def env(self) -> dict[str, str]:
        """The settings that point the bot at this server (no TLS, no login on loopback)."""
        return {
            "SMTP_HOST": self.host,
            "SMTP_PORT": str(self.port),
            "SMTP_FROM": SENDER,
            "SMTP_STARTTLS": "false",
            "SMTP_USER": "",
            "SMTP_PASSWORD": "",
        }

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
        mail = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(mail)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def wait_for(self, address: str, count: int = 1, timeout: float = 20.0) -> list[EmailMessage]:
        """The mails to ``address`` once there are ``count`` of them (polled; fails after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"expected {count} mail(s) to {address}, got {len(self.to(address))}")

    def code_in(self, mail: EmailMessage) -> str:
        body = mail.get_body(preferencelist=("plain",))
        found = CODE.search(str(mail["Subject"])) or CODE.search(body.get_content() if body else "")
        assert found, f"no 6-digit code in the mail {mail['Subject']!r}"
        return found.group(1)

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    mailbox = Mailbox(host="127.0.0.1", port=free_port())
    controller = Controller(mailbox, hostname=mailbox.host, port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
