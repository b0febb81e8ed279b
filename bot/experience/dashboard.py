"""The live dashboard: the report's figures on a read-only page of the worker, behind the agents' login.

Routes (mounted by bot/worker.py ``create_app`` with :func:`mount_dashboard`):

- ``GET /dashboard`` — the page (static HTML; its script renders every value as DOM text);
- ``GET /dashboard/dashboard.js``, ``GET /dashboard/plotly.min.js`` — its script, and plotly.js
  from the installed plotly package (same origin: the page's CSP allows no other);
- ``POST /dashboard/api/login`` / ``POST /dashboard/api/logout``, ``GET /dashboard/api/session``;
- ``GET /dashboard/report.json?days=30`` (or ``?from=2026-11-01&to=2026-11-30``) — the report
  dict (bot/experience/report.py ``build_report``) and the page model drawn from it
  (bot/experience/view.py), login required.

The login is the agent inbox's: the same accounts (``python -m bot agents add NAME``), the
same scrypt hashes, sessions, rate limit and the same door (bot/handoff/desks/inbox/guard.py:
Host, Origin, JSON body, session, CSRF). The dashboard mounts its own login routes so it
works whether or not the inbox is on (with Slack configured the inbox is off by default,
yet a support lead still needs the dashboard). Its session cookie is the inbox's
(``inbox_session``, HttpOnly, SameSite=Strict) scoped to ``/dashboard``, so logging in to one
page does not open the other: each keeps the inbox's cookie rules unchanged.

A report reads a period of conversations, so one is built at most once per
:data:`CACHE_SECONDS` per period, one at a time, in a thread.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.db import run_sync
from bot.experience.periods import Period, PeriodError
from bot.experience.view import page_model
from bot.handoff.desks.inbox.accounts import AgentAccounts, csrf_token
from bot.handoff.desks.inbox.guard import (
    AGENT,
    CSRF_HEADER,
    INBOX_ACCOUNTS,
    INBOX_POLICY,
    SESSION_COOKIE,
    Handler,
    InboxPolicy,
    check_host,
    current_agent,
    guarded,
    refuse,
)
from bot.handoff.desks.inbox.routes import (
    first_run_html,
    login_response,
    logout_response,
    session_response,
)

logger = logging.getLogger(__name__)

Report = dict[str, Any]
BuildReport = Callable[[Period], Report]  # blocking: called in a thread

COOKIE_PATH = "/dashboard"
FIRST_RUN_MARK = "<!-- first-run -->"
DEFAULT_DAYS = 30
MAX_DAYS = 366
CACHE_SECONDS = 60.0
CACHE_SIZE = 16

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class DashboardState:
    """The report builder, the business timezone and a small cache of built reports."""

    def __init__(
        self,
        build: BuildReport,
        timezone: str,
        clock: Callable[[], datetime] | None = None,
        digest: Callable[[], dict[str, str] | None] | None = None,
    ) -> None:
        self.build = build
        self.digest = digest  # the latest weekly digest kept in the inbox (no Slack), or None
        self.timezone = timezone
        self.clock = clock or (lambda: datetime.now(UTC))
        self.lock = asyncio.Lock()
        self.cache: dict[tuple[date, date], tuple[float, dict[str, Any]]] = {}

    async def answer(self, period: Period) -> dict[str, Any]:
        key = (period.start, period.end)
        async with self.lock:  # one report at a time: a reload storm cannot fill the two cores
            cached = self.cache.get(key)
            if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
                return cached[1]
            report = await run_sync(self.build, period)
            digest = await run_sync(self.digest) if self.digest else None
            answer = {"report": report, "page": page_model(report), "digest": digest}
            if len(self.cache) >= CACHE_SIZE:
                self.cache.pop(min(self.cache, key=lambda k: self.cache[k][0]))
            self.cache[key] = (time.monotonic(), answer)
            return answer


DASHBOARD = web.AppKey("dashboard", DashboardState)


def mount_dashboard(
    app: web.Application,
    build: BuildReport,
    timezone: str,
    accounts: AgentAccounts,
    policy: InboxPolicy,
    digest: Callable[[], dict[str, str] | None] | None = None,
) -> None:
    """Add the dashboard's routes; the inbox's accounts and policy are shared when it is mounted."""
    app[DASHBOARD] = DashboardState(build, timezone, digest=digest)
    if INBOX_ACCOUNTS not in app:
        app[INBOX_ACCOUNTS] = accounts
    if INBOX_POLICY not in app:
        app[INBOX_POLICY] = policy
    app.router.add_get("/dashboard", _page)
    app.router.add_get("/dashboard/dashboard.js", _script)
    app.router.add_get("/dashboard/plotly.min.js", _plotly)
    app.router.add_post("/dashboard/api/login", _login)
    app.router.add_post("/dashboard/api/logout", _logout)
    app.router.add_get("/dashboard/api/session", _session)
    app.router.add_get("/dashboard/report.json", _report)


def dashboard_guard(*, writes: bool, session: bool) -> Callable[[Handler], Handler]:
    """The inbox's door: :func:`guarded`'s Host, Origin and JSON checks, then its session and CSRF rules.

    The session check is the inbox's, written here so that a caller without a session is
    pointed at this page's login rather than the inbox's (which may not be mounted).
    """

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def with_session(request: web.Request) -> web.StreamResponse:
            if session:
                agent = await current_agent(request)
                if agent is None:
                    raise refuse(web.HTTPUnauthorized, "log in first", login="/dashboard")
                sent = request.headers.get(CSRF_HEADER, "")
                expected = csrf_token(request.cookies.get(SESSION_COOKIE, ""))
                if writes and not (sent and hmac.compare_digest(sent.encode(), expected.encode())):
                    raise refuse(web.HTTPForbidden, f"missing or wrong {CSRF_HEADER}; reload the dashboard")
                request[AGENT] = agent
            return await handler(request)

        return guarded(writes=writes, session=False)(with_session)

    return wrap


def _asset(name: str) -> str:
    return resources.files("bot.experience").joinpath(f"static/{name}").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _plotly_bytes() -> bytes:
    return resources.files("plotly").joinpath("package_data/plotly.min.js").read_bytes()


async def _page(request: web.Request) -> web.Response:
    check_host(request)
    first_run = await run_sync(request.app[INBOX_ACCOUNTS].count) == 0
    page = _asset("dashboard.html").replace("/* report.css */", _asset("report.css"))
    page = page.replace(FIRST_RUN_MARK, first_run_html() if first_run else "")
    return web.Response(text=page, content_type="text/html", headers=PAGE_HEADERS)


async def _script(request: web.Request) -> web.Response:
    check_host(request)
    return web.Response(text=_asset("dashboard.js"), content_type="text/javascript", headers=PAGE_HEADERS)


async def _plotly(request: web.Request) -> web.Response:
    check_host(request)
    headers = {**PAGE_HEADERS, "Cache-Control": "private, max-age=86400"}
    return web.Response(
        body=_plotly_bytes(), content_type="text/javascript", charset="utf-8", headers=headers
    )


@dashboard_guard(writes=True, session=False)
async def _login(request: web.Request) -> web.Response:
    return await login_response(request, COOKIE_PATH)


@dashboard_guard(writes=True, session=True)
async def _logout(request: web.Request) -> web.Response:
    return await logout_response(request, COOKIE_PATH)


@dashboard_guard(writes=False, session=True)
async def _session(request: web.Request) -> web.Response:
    return session_response(request)


def requested_period(query: Any, timezone: str, now: datetime) -> Period:
    """``?days=N`` (the last N local days, today included) or ``?from=…&to=…`` (local dates)."""
    start, end = query.get("from"), query.get("to")
    if start or end:
        if not (start and end):
            raise PeriodError("give both from and to (YYYY-MM-DD), or days")
        try:
            period = Period(date.fromisoformat(start), date.fromisoformat(end), timezone)
        except ValueError as exc:
            if isinstance(exc, PeriodError):
                raise
            raise PeriodError("from and to are dates: YYYY-MM-DD") from None
    else:
        try:
            days = int(query.get("days", DEFAULT_DAYS))
        except ValueError:
            raise PeriodError("days must be a whole number, e.g. ?days=30") from None
        period = Period.last_days(days, now, timezone)
    if period.days > MAX_DAYS:
        raise PeriodError(f"a period has at most {MAX_DAYS} days")
    return period


@dashboard_guard(writes=False, session=True)
async def _report(request: web.Request) -> web.Response:
    state = request.app[DASHBOARD]
    try:
        period = requested_period(request.query, state.timezone, state.clock())
    except PeriodError as exc:
        raise refuse(web.HTTPBadRequest, str(exc)) from None
    try:
        answer = await state.answer(period)
    except Exception as exc:  # the worker keeps serving; the details (maybe with SQL) go to its log only
        logger.exception("dashboard: the report for %s..%s failed", period.start, period.end)
        raise refuse(
            web.HTTPServiceUnavailable,
            f"the report cannot be built ({exc.__class__.__name__}); the worker's log says why",
        ) from None
    return web.json_response(answer)


def mount_worker_dashboard(
    app: web.Application, endpoints_file: Path, database_url: str, accounts: AgentAccounts
) -> None:
    """The worker's dashboard: reports from the stores the servers use, the inbox's accounts and policy.

    Mounted whether the handoffs go to Slack or to the inbox: with Slack configured (and so
    the inbox off by default) the dashboard still has its login, on the inbox's accounts.
    """
    from bot.experience.report import load_report, metric_settings
    from bot.settings import data_dir
    from bot.settings import settings as process_settings

    timezone = metric_settings().timezone  # business.yml: errors name the key at start-up, not per request
    inbox = process_settings().inbox

    def build(period: Period) -> Report:
        return load_report(
            period, endpoints_file=endpoints_file, database_url=database_url, data_dir=data_dir()
        )

    from bot.experience.digest_job import latest_inbox_digest

    mount_dashboard(
        app, build, timezone, accounts, InboxPolicy.from_settings(inbox.public_host, inbox.session_hours),
        digest=lambda: latest_inbox_digest(database_url),
    )  # fmt: skip
