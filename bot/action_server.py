"""The action server: rasa-sdk's app, reachable only by our Rasa, with bounded requests.

``python -m bot actions`` replaces ``python -m rasa_sdk``, because rasa-sdk 3.6 as it ships:

- binds 0.0.0.0 (``SANIC_HOST``) with no authentication, so anyone on the network can POST
  a made-up tracker (any sender, any channel) and get that customer's orders back;
- decompresses ``Content-Encoding: deflate`` bodies with no size limit (a few KB of
  deflate become gigabytes in memory);
- answers CORS requests from any origin and echoes the request body in its 500 answers.

Here every request except ``GET /health`` needs ``Authorization: Bearer <ACTIONS_TOKEN>``
(Rasa sends it: endpoints.yml ``action_endpoint.headers``), the server binds
``ACTIONS_HOST`` (loopback unless set), bodies are capped before and after decompression,
CORS is off (no browser has business here) and errors say nothing about the request.
"""

from __future__ import annotations

import hmac
import json
import logging
import zlib

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

# Rasa sends the whole tracker with every action call, so a long conversation is a large
# body (measured: about 1.5 KB per customer turn with its bot events); 8 MB holds about
# 5,000 turns, far beyond any conversation, and still bounds what a caller can make us hold.
MAX_BODY_BYTES = 8 * 1024 * 1024
OPEN_PATHS = frozenset({"/health"})


def create_action_app(token: str, max_body: int = MAX_BODY_BYTES, package: str = "actions") -> Sanic:
    """rasa-sdk's app for ``package`` with the token check and the size limits in front of it."""
    from rasa_sdk.endpoint import create_app

    if not token:
        raise ValueError("the action server needs a token (ACTIONS_TOKEN); see bot/internal_tokens.py")
    app = create_app(package, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = max_body
    expected = f"Bearer {token}".encode()

    @app.on_request
    async def authenticate(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return response.json({"error": "missing or wrong Authorization: Bearer <ACTIONS_TOKEN>"}, 401)
        if request.headers.get("Content-Encoding", "").lower() == "deflate":
            return _inflate(request, max_body)
        return None

    app.exception(Exception)(_error)  # replaces rasa-sdk's, which echoes the request body
    return app


def _inflate(request: Request, limit: int) -> HTTPResponse | None:
    """Decompress a deflate body in place, refusing one that would grow past ``limit``."""
    inflater = zlib.decompressobj()
    try:
        body = inflater.decompress(request.body, limit)
    except zlib.error:
        return response.json({"error": "the deflate body is corrupt"}, 400)
    if inflater.unconsumed_tail or not inflater.eof:
        return response.json({"error": f"the body inflates past {limit} bytes"}, 413)
    request.body = body
    request.headers.pop("Content-Encoding", None)  # rasa-sdk must not inflate it again
    request.parsed_json = None
    try:
        request.parsed_json = json.loads(body)
    except ValueError:
        return response.json({"error": "the body is not JSON"}, 400)
    return None


async def _error(request: Request, exception: Exception) -> HTTPResponse:
    """Any failure: a log line for us, a plain 500 (no request body, no exception text) for the caller."""
    status = getattr(exception, "status_code", 500)
    if status >= 500:
        logger.error("action server request %s failed", request.path, exc_info=exception)
        return response.json({"error": "the action failed; see the action server's log"}, 500)
    return response.json({"error": str(exception)}, status)


def serve(host: str, port: int, token: str) -> None:
    """Run the action server until stopped (``python -m bot actions``)."""
    app = create_action_app(token)
    logger.info("action server on http://%s:%s (token required)", host, port)
    app.run(host, port, workers=1, access_log=False)
