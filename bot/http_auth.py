"""Bearer-token checks for the worker's own HTTP routes (aiohttp middleware).

Why a middleware and not a check in each handler: a route added later is protected by
naming its prefix once here, not by remembering a line in its handler. Slack's
``/slack/events`` carries Slack's signature (checked by Bolt) and the inbox has agent
sessions (bot/handoff/desks/inbox/), so they are not listed; ``/health`` answers
``{"status": "ok"}`` to anyone (a load balancer's probe) and its details only with the token.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DETAILS = web.AppKey("health_details_allowed", bool)


def has_bearer(request: web.Request, token: str) -> bool:
    """Whether the request carries ``Authorization: Bearer <token>`` (constant-time comparison)."""
    given = request.headers.get("Authorization", "").encode()
    return bool(token) and hmac.compare_digest(given, f"Bearer {token}".encode())


def bearer_middleware(token: str, prefixes: Iterable[str], setting: str) -> Callable[..., Awaitable]:
    """Refuse requests under ``prefixes`` without the token: 401 naming ``setting``."""
    guarded = tuple(prefixes)

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(guarded) and not has_bearer(request, token):
            return web.json_response(
                {"error": f"send Authorization: Bearer <{setting}> (docs/security.md)"},
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await handler(request)

    return check
