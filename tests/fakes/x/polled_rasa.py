"""Rasa's ``/webhooks/twitter/polled`` as the X poller sees it, without Rasa.

Checks the poller's signature with an independent implementation of the HMAC (the fake
X's ``webhook_signature``), keyed with the polled-events key; records what it accepted,
counts what it refused, and answers 503 while ``down`` (Rasa restarting).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.channels.x_api import POLLED_SIGNATURE_HEADER
from bot.channels.x_worker import POLLED_PATH
from tests.fakes.x.webhooks import webhook_signature


class PolledRasaStandIn:
    def __init__(self, key: str) -> None:
        self.key = key
        self.down = False
        self.accepted: list[dict[str, Any]] = []
        self.refused = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(POLLED_PATH, self.receive)
        return app

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get(POLLED_SIGNATURE_HEADER) != webhook_signature(self.key, body):
            self.refused += 1
            return web.json_response({"error": "invalid signature"}, status=401)
        if self.down:
            return web.Response(status=503, text="starting")
        self.accepted.append(json.loads(body))
        return web.json_response({"status": "ok"})
