"""Web-chat session ids: issued by the server, signed, and the only ids the web chat accepts.

Why: the session id is the Rasa conversation id. Rasa's socketio channel lets the browser
pick it, so anyone could open the chat with a victim's id (an X user id is public, a
REST integration's sender may be guessable) and read the replies an agent writes to that
victim. Here the server makes every id: ``wc-<random>.<signature>``, 144 random bits and
an HMAC-SHA256 over them with ``WEBCHAT_SECRET`` (:func:`bot.internal_tokens.internal_tokens`).

- A browser that kept an id we signed (a page reload) resumes that conversation.
- Any other id (made up, another channel's, an old widget's unsigned one) is replaced by a
  fresh one: it starts a new conversation and never joins someone else's.
- Signed rather than stored: every replica with the same secret accepts the id, with no
  table to share. Rotating the secret starts every visitor on a new conversation.

The ``wc-`` prefix keeps these ids apart from the other channels' (X user ids are digits;
the REST channel refuses senders that start with ``wc-`` or are all digits).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from bot.redact import redact

PREFIX = "wc-"
RANDOM_BYTES = 18  # 144 bits: 24 URL-safe characters, none of them "."
SIGNATURE_BYTES = 16  # 128 bits of the HMAC
MAX_LENGTH = 100
DOMAIN = b"supportbot-webchat-session:"  # this key signs nothing else


def _signature(secret: str, token: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), DOMAIN + token.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:SIGNATURE_BYTES]).rstrip(b"=").decode("ascii")


def new_session_id(secret: str) -> str:
    """A fresh, signed session id (also a new conversation) that redaction leaves as it is.

    Why the check: the id is shown to agents (card, transcript) and written to logs, both
    through ``bot.redact``, and about 1 random id in 300 contains what reads as an IBAN
    ("GR52HXoP9QARBLIq7WRkUg": a country code, two digits, 11-30 letters and digits), which
    came out as "[iban redacted]": the agent saw a mangled conversation id. Drawing again
    costs nothing and keeps every id printable as itself.
    """
    while True:
        token = secrets.token_urlsafe(RANDOM_BYTES)
        session_id = f"{PREFIX}{token}.{_signature(secret, token)}"
        if redact(session_id) == session_id:
            return session_id


def is_signed(secret: str, session_id: Any) -> bool:
    """Whether ``session_id`` is one this server (or a replica with the same secret) issued."""
    if not isinstance(session_id, str) or len(session_id) > MAX_LENGTH or not session_id.startswith(PREFIX):
        return False
    token, dot, signature = session_id[len(PREFIX) :].rpartition(".")
    if not dot or not token or not token.isascii():
        return False
    return hmac.compare_digest(
        signature.encode("ascii", "replace"), _signature(secret, token).encode("ascii")
    )
