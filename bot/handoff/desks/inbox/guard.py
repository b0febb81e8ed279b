"""The inbox's door: allowed Host and Origin, JSON only, a session, a CSRF token.

Why each check, in the order they run:

1. **Host** must be a loopback name or ``INBOX_PUBLIC_HOST``: a page on ``evil.example``
   whose DNS name is re-pointed at 127.0.0.1 (DNS rebinding) is same-origin with itself,
   so the browser would let it read our answers; its requests still say ``Host:
   evil.example``, and are refused.
2. **Origin** of a state-changing request, when a browser sends one, must be this host
   (or the public host): another site's page cannot post to the inbox from the agent's
   browser. ``Sec-Fetch-Site: cross-site`` without an Origin is refused too.
3. **Content-Type: application/json** for state-changing requests: a cross-site HTML form
   can only send form or ``text/plain`` bodies without a CORS preflight.
4. **Session cookie** (HttpOnly, SameSite=Strict, Secure behind https): 401 without one.
5. **CSRF token** (``X-CSRF-Token``, derived from the session, see ``accounts.csrf_token``)
   on every state-changing request: 403 without the right one.
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web

from bot.db import run_sync
from bot.handoff.desks.inbox.accounts import Agent, AgentAccounts, csrf_token

SESSION_COOKIE = "inbox_session"
CSRF_HEADER = "X-CSRF-Token"
COOKIE_PATH = "/inbox"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class InboxPolicy:
    """Which host names the inbox answers to and how long a login lasts."""

    public_hosts: frozenset[str] = frozenset()
    session_lifetime: timedelta = timedelta(hours=12)

    @property
    def allowed_hosts(self) -> frozenset[str]:
        return LOOPBACK_NAMES | self.public_hosts

    @classmethod
    def from_settings(cls, public_host: str | None, session_hours: int) -> InboxPolicy:
        """``INBOX_PUBLIC_HOST`` (comma-separated names, a port or scheme is ignored) and the lifetime."""
        return cls(frozenset(_hosts((public_host or "").split(","))), timedelta(hours=max(1, session_hours)))


def _hosts(values: Iterable[str]) -> Iterable[str]:
    for value in values:
        value = value.strip()
        if value:
            yield host_name(value if "//" in value else f"//{value}") or value.lower()


def host_name(value: str | None) -> str | None:
    """The lowercased host of ``host[:port]``, ``[v6]:port`` or a URL; None if it is not one."""
    if not value:
        return None
    try:
        parsed = urlsplit(value if "//" in value else f"//{value}")
        return parsed.hostname.rstrip(".") if parsed.hostname else None
    except ValueError:
        return None


INBOX_ACCOUNTS = web.AppKey("inbox_accounts", AgentAccounts)
INBOX_POLICY = web.AppKey("inbox_policy", InboxPolicy)
AGENT = "inbox_agent"  # request key: the logged-in account (an accounts.Agent)


def refuse(status: type[web.HTTPException], message: str, **extra: object) -> web.HTTPException:
    """An HTTP error with a JSON body that says what to do (the page shows ``error``)."""
    return status(text=json.dumps({"error": message, **extra}), content_type="application/json")


def check_host(request: web.Request) -> None:
    policy = request.app[INBOX_POLICY]
    if host_name(request.headers.get("Host")) not in policy.allowed_hosts:
        raise refuse(
            web.HTTPForbidden,
            "the inbox answers only to localhost and the host names in INBOX_PUBLIC_HOST; "
            "set INBOX_PUBLIC_HOST to the name agents use to reach it",
        )


def check_origin(request: web.Request) -> None:
    """A browser's state-changing request must come from the inbox's own page."""
    origin = request.headers.get("Origin")
    if origin is None:
        if request.headers.get("Sec-Fetch-Site", "").lower() in ("cross-site", "same-site"):
            raise refuse(web.HTTPForbidden, "cross-site requests to the inbox are refused")
        return  # not a browser (curl, a script): the session and CSRF token still apply
    parsed = urlsplit(origin) if origin != "null" else None
    host = (request.headers.get("Host") or "").lower()
    same = parsed is not None and parsed.netloc.lower() == host
    public = parsed is not None and host_name(origin) in request.app[INBOX_POLICY].public_hosts
    if not (same or public):
        raise refuse(web.HTTPForbidden, f"requests from {origin} are refused: only the inbox's own page")


def check_json(request: web.Request) -> None:
    if request.content_type != "application/json":
        raise refuse(web.HTTPUnsupportedMediaType, "send the body as JSON (Content-Type: application/json)")


async def current_agent(request: web.Request) -> Agent | None:
    token = request.cookies.get(SESSION_COOKIE)
    return await run_sync(request.app[INBOX_ACCOUNTS].session_agent, token) if token else None


def guarded(*, writes: bool, session: bool) -> Callable[[Handler], Handler]:
    """Wrap an inbox handler in the checks above (``writes``: 2, 3 and 5; ``session``: 4)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            check_host(request)
            if writes:
                check_origin(request)
                check_json(request)
            if session:
                agent = await current_agent(request)
                if agent is None:
                    raise refuse(web.HTTPUnauthorized, "log in first", login="/inbox")
                if writes and not _csrf_ok(request):
                    raise refuse(web.HTTPForbidden, f"missing or wrong {CSRF_HEADER}; reload the inbox")
                request[AGENT] = agent
            response = await handler(request)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return checked

    return wrap


def _csrf_ok(request: web.Request) -> bool:
    sent = request.headers.get(CSRF_HEADER, "")
    expected = csrf_token(request.cookies.get(SESSION_COOKIE, ""))
    return bool(sent) and hmac.compare_digest(sent.encode(), expected.encode())


def set_session_cookie(
    request: web.Request, response: web.StreamResponse, token: str, path: str = COOKIE_PATH
) -> None:
    """HttpOnly (no script reads it), SameSite=Strict (no other site sends it), Secure behind https.

    ``path``: the page the session is for (``/inbox``, or ``/dashboard`` for its own login).
    """
    secure = request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    lifetime = int(request.app[INBOX_POLICY].session_lifetime.total_seconds())
    response.set_cookie(
        SESSION_COOKIE, token, max_age=lifetime, path=path, httponly=True, samesite="Strict",
        secure=secure,
    )  # fmt: skip


def clear_session_cookie(response: web.StreamResponse, path: str = COOKIE_PATH) -> None:
    response.del_cookie(SESSION_COOKIE, path=path)
