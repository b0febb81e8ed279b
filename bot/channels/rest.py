"""Rasa's REST channel for trusted integrations, with clear answers to bad input.

Same name (``rest``) and URL (``POST /webhooks/rest/webhook``) as Rasa's own. Why it is
not Rasa's: that one lets anyone name any ``sender`` (the conversation id), so a stranger
could write into, and read the replies of, any customer's conversation; a missing sender
became one ``default`` conversation shared by everyone. Here:

- every request needs ``Authorization: Bearer <REST_CHANNEL_TOKEN>``
  (:func:`bot.internal_tokens.internal_tokens`; generated into the data directory unless
  set) → 401 otherwise. The REST channel is for our terminal chat, tests and integrations
  that authenticate their own users, never for browsers (the web chat is for those);
- ``sender`` is required (400 without), and may not look like another channel's ids: all
  digits are X user ids, ``wc-…`` are the web chat's signed sessions (400);
- ``metadata`` is kept only when small and flat (bot/channels/metadata.py);
- a body that is not JSON, not an object, or has no text ``message`` → 400 with a
  message saying what to send (Rasa's channel answers such requests with a 500);
- an empty or whitespace-only message gets an answer asking what we can help with
  (Rasa returns nothing, and the customer thinks the bot is broken);
- over-long messages are cut before NLU, with the reply as usual (bot/channels/bad_input.py).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.bad_input import clipped, empty_reply
from bot.channels.metadata import bounded_metadata
from bot.channels.webchat_sessions import PREFIX as WEBCHAT_PREFIX
from bot.internal_tokens import internal_tokens

MAX_SENDER_CHARS = 200
USAGE = 'send JSON like {"sender": "customer-123", "message": "where is my order?"}'
UNAUTHORIZED = (
    "the REST channel needs the header 'Authorization: Bearer <REST_CHANNEL_TOKEN>' "
    "(the token is in the environment, or generated into the data directory's internal-tokens.json)"
)


def authorized(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries exactly ``Bearer <token>`` (constant-time)."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8"))


def sender_problem(sender: Any) -> str | None:
    """Why ``sender`` cannot be a REST conversation id, or None.

    Each channel owns its ids: a REST sender that looked like an X user id or a web-chat
    session would write into (and be answered with the replies of) that channel's customer.
    """
    if sender is None:
        return f"'sender' is required: the id of your customer's conversation; {USAGE}"
    if isinstance(sender, bool) or not isinstance(sender, str | int):
        return f"'sender' must be text; {USAGE}"
    text = str(sender).strip()
    if not text or len(text) > MAX_SENDER_CHARS:
        return f"'sender' must be a non-empty id of at most {MAX_SENDER_CHARS} characters"
    if text.isdigit():
        return "'sender' may not be all digits: those are X user ids; prefix your ids, e.g. 'crm-1234'"
    if text.lower().startswith(WEBCHAT_PREFIX):
        return f"'sender' may not start with '{WEBCHAT_PREFIX}': those are the web chat's sessions"
    return None


class SupportRestInput(RestInput):
    """credentials.yml key ``bot.channels.rest.SupportRestInput``; Rasa channel name ``rest``."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Any) -> Blueprint:
        webhook = Blueprint("support_rest_webhook", __name__)
        token = internal_tokens().rest_token  # at start-up: a production server without it fails now

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not authorized(request.headers.get("authorization"), token):
                return response.json(
                    {"error": UNAUTHORIZED}, status=401, headers={"WWW-Authenticate": 'Bearer realm="rest"'}
                )
            try:
                body = json.loads(request.body or b"")
            except ValueError:
                return response.json({"error": f"the body is not JSON; {USAGE}"}, status=400)
            if not isinstance(body, dict):
                return response.json({"error": f"expected a JSON object; {USAGE}"}, status=400)
            message, sender = body.get("message"), body.get("sender")
            if not isinstance(message, str):
                return response.json({"error": f"'message' must be text; {USAGE}"}, status=400)
            problem = sender_problem(sender)
            if problem is not None:
                return response.json({"error": problem}, status=400)
            sender = str(sender)
            if not message.strip():
                return response.json([{"recipient_id": sender, "text": empty_reply()}])
            collector = CollectingOutputChannel()
            metadata = bounded_metadata(body.get("metadata"), "REST")
            await on_new_message(
                UserMessage(
                    clipped(message), collector, sender,
                    input_channel=self.name(), metadata=metadata,
                )
            )  # fmt: skip
            return response.json(collector.messages)

        return webhook
