"""Rasa's REST channel with clear answers to bad input instead of silence or a 500.

Same name (``rest``) and URL (``POST /webhooks/rest/webhook``) as Rasa's own, so every
client keeps working. The differences:

- a body that is not JSON, not an object, or has no text ``message`` → 400 with a
  message saying what to send (Rasa's channel answers such requests with a 500);
- an empty or whitespace-only message gets an answer asking what we can help with
  (Rasa returns nothing, and the customer thinks the bot is broken);
- over-long messages are cut before NLU, with the reply as usual (bot/channels/bad_input.py).
"""

from __future__ import annotations

import json
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.bad_input import clipped, empty_reply

MAX_SENDER_CHARS = 200
USAGE = 'send JSON like {"sender": "customer-123", "message": "where is my order?"}'


class SupportRestInput(RestInput):
    """credentials.yml key ``bot.channels.rest.SupportRestInput``; Rasa channel name ``rest``."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Any) -> Blueprint:
        webhook = Blueprint("support_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = json.loads(request.body or b"")
            except ValueError:
                return response.json({"error": f"the body is not JSON; {USAGE}"}, status=400)
            if not isinstance(body, dict):
                return response.json({"error": f"expected a JSON object; {USAGE}"}, status=400)
            message, sender = body.get("message"), body.get("sender", "default")
            if not isinstance(message, str):
                return response.json({"error": f"'message' must be text; {USAGE}"}, status=400)
            if (
                not isinstance(sender, str | int)
                or not str(sender).strip()
                or len(str(sender)) > MAX_SENDER_CHARS
            ):
                return response.json(
                    {"error": f"'sender' must be a non-empty id of at most {MAX_SENDER_CHARS} characters"},
                    status=400,
                )
            sender = str(sender)
            if not message.strip():
                return response.json([{"recipient_id": sender, "text": empty_reply()}])
            collector = CollectingOutputChannel()
            metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else None
            await on_new_message(
                UserMessage(
                    clipped(message), collector, sender,
                    input_channel=self.name(), metadata=metadata,
                )
            )  # fmt: skip
            return response.json(collector.messages)

        return webhook
