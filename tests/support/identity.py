"""The whole bot mailing through a local SMTP server, and a customer's side of the REST channel.

For the identity-linking attacks (tests/security/test_identity_bruteforce.py): Rasa and the
action server are real; the action server's SMTP client delivers to tests/fakes/smtp.py,
where the test reads what the account owner would find in their inbox.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from bot.customers import CustomerStore
from bot.processes import BotProcesses
from tests.fakes.smtp import Mailbox, smtp_server
from tests.support.bot import NO_SLACK, whole_bot


@dataclass
class IdentityRig:
    bot: BotProcesses
    mailbox: Mailbox
    store: CustomerStore

    def say(self, sender: str, text: str) -> str:
        """What the bot answers one customer message on the REST channel (texts joined)."""
        reply = requests.post(
            self.bot.webhook_url,
            json={"sender": sender, "message": text},
            headers=self.bot.rest_headers,
            timeout=60,
        )
        reply.raise_for_status()
        return "\n".join(str(message.get("text") or "") for message in reply.json())

    def linked_name(self, sender: str) -> str | None:
        found = self.store.find_by_identity("rest", sender)
        return found.name if found else None


def without(text: str, *values: str) -> str:
    """``text`` with the values the customer typed replaced, to compare two answers' shape."""
    for value in values:
        text = re.sub(re.escape(value), "<typed>", text, flags=re.IGNORECASE)
    return text


@contextmanager
def identity_bot(model: Path, data: Path) -> Iterator[IdentityRig]:
    """Rasa + action server (no worker: handoffs are read from the database) mailing to a local server."""
    with smtp_server() as mailbox, whole_bot(model, data, {**NO_SLACK, **mailbox.env}, relay=False) as bot:
        yield IdentityRig(bot, mailbox, CustomerStore(f"sqlite:///{data / 'customers.db'}"))
