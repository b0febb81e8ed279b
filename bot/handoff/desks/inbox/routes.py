"""The local inbox's page and JSON API: the same relay calls Slack's buttons and threads make.

- ``GET /inbox`` — the page (static HTML; it renders every value as DOM text, never as HTML);
  with no agent account yet it says which command creates one
- ``POST /inbox/api/login`` ``{"name", "password"}`` / ``POST /inbox/api/logout`` — a session cookie
- ``GET /inbox/api/session`` — who is logged in and the CSRF token for the state-changing calls
- ``GET /inbox/api/handoffs`` — recent handoffs, rendered as plain text (redacted)
- ``POST /inbox/api/handoffs/{id}/reply|claim|resolve`` — ``{"text": "..."}``; the agent is the
  logged-in account, whatever the body says

Every route checks Host; the API needs a session; state-changing calls need an allowed
Origin, a JSON body and the CSRF token (see :mod:`.guard`). Customer text is untrusted: it
reaches the page only as JSON strings that the page puts into text nodes, so
``<img src=x onerror=…>`` typed by a customer is shown, not run.
"""

from __future__ import annotations

import html
import sys
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.db import run_sync
from bot.handoff.desks.base import card_state
from bot.handoff.desks.inbox import render
from bot.handoff.desks.inbox.accounts import AgentAccounts, csrf_token
from bot.handoff.desks.inbox.guard import (
    AGENT,
    COOKIE_PATH,
    INBOX_ACCOUNTS,
    INBOX_POLICY,
    SESSION_COOKIE,
    InboxPolicy,
    check_host,
    clear_session_cookie,
    guarded,
    refuse,
    set_session_cookie,
)
from bot.handoff.desks.inbox.saved_replies import add_saved_reply_routes
from bot.handoff.relay import Relay
from bot.handoff.saved_replies import load_saved_replies
from bot.handoff.states import HandoffStatus
from bot.handoff.store import HandoffRecord, HandoffStore
from bot.settings import project_root

INBOX_RELAY = web.AppKey("inbox_relay", Relay)
INBOX_STORE = web.AppKey("inbox_store", HandoffStore)

FIRST_RUN_MARK = "<!-- first-run -->"


def add_agent_command() -> str:
    """What the login page tells a new installation to run: this interpreter, the checkout's if it is one."""
    python = Path(sys.executable)
    try:
        shown = str(python.relative_to(project_root()))
    except ValueError:
        shown = "python"
    return f"{shown} -m bot agents add YOUR-NAME"


def first_run_html() -> str:
    """The login page's note while no account exists (no path or setting shown: strangers see it too)."""
    return (
        '<p class="setup" id="first-run">No agent accounts yet. Create the first one on the bot\'s machine, '
        f"in its directory and with its settings: <code>{html.escape(add_agent_command())}</code> "
        "(it asks for a password), then reload this page.</p>"
    )


# Defence in depth behind the page's text-only rendering: no inline or foreign script can
# run (the page's own script is /inbox/inbox.js), nothing loads from elsewhere.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def add_inbox_routes(
    app: web.Application,
    relay: Relay,
    store: HandoffStore,
    accounts: AgentAccounts | None = None,
    policy: InboxPolicy | None = None,
) -> None:
    """Mount the inbox on ``app`` (accounts default to the handoff store's database)."""
    app[INBOX_RELAY], app[INBOX_STORE] = relay, store
    app[INBOX_ACCOUNTS] = accounts or AgentAccounts(store.db)
    app[INBOX_POLICY] = policy or InboxPolicy()
    app.router.add_get("/inbox", _page)
    app.router.add_get("/inbox/inbox.js", _script)
    app.router.add_post("/inbox/api/login", _login)
    app.router.add_post("/inbox/api/logout", _logout)
    app.router.add_get("/inbox/api/session", _session)
    app.router.add_get("/inbox/api/handoffs", _list)
    app.router.add_post("/inbox/api/handoffs/{id:\\d+}/{verb:reply|claim|resolve}", _act)
    add_saved_reply_routes(app, relay, load_saved_replies())  # bot/handoff/desks/inbox/saved_replies.py


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


async def _page(request: web.Request) -> web.Response:
    check_host(request)
    first_run = await run_sync(request.app[INBOX_ACCOUNTS].count) == 0
    page = _asset("inbox.html").replace(FIRST_RUN_MARK, first_run_html() if first_run else "")
    return web.Response(text=page, content_type="text/html", headers=PAGE_HEADERS)


async def _script(request: web.Request) -> web.Response:
    check_host(request)
    return web.Response(text=_asset("inbox.js"), content_type="text/javascript", headers=PAGE_HEADERS)


async def _json_object(request: web.Request, example: str) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise refuse(web.HTTPBadRequest, f"send JSON: {example}") from None
    if not isinstance(body, dict):
        raise refuse(web.HTTPBadRequest, f"send a JSON object: {example}")
    return body


async def login_response(request: web.Request, cookie_path: str = COOKIE_PATH) -> web.Response:
    """Log an agent in (name and password as JSON) and set the session cookie for ``cookie_path``.

    The inbox's login, and the dashboard's (bot/experience/dashboard.py) with its own path.
    """
    body = await _json_object(request, '{"name": "your account", "password": "..."}')
    accounts, policy = request.app[INBOX_ACCOUNTS], request.app[INBOX_POLICY]
    result = await run_sync(
        accounts.login, str(body.get("name") or ""), str(body.get("password") or ""), policy.session_lifetime
    )
    if result.limited:
        raise refuse(
            web.HTTPTooManyRequests,
            "too many wrong passwords for this name: try again in 15 minutes, or set a new password "
            "with `python -m bot agents password NAME`",
        )
    if result.agent is None or result.token is None:
        setup = add_agent_command() if await run_sync(accounts.count) == 0 else None
        raise refuse(web.HTTPUnauthorized, "wrong name or password", setup=setup)
    response = web.json_response({"agent": result.agent.name, "csrf": csrf_token(result.token)})
    set_session_cookie(request, response, result.token, cookie_path)
    return response


async def logout_response(request: web.Request, cookie_path: str = COOKIE_PATH) -> web.Response:
    await run_sync(request.app[INBOX_ACCOUNTS].logout, request.cookies[SESSION_COOKIE])
    response = web.json_response({"agent": None})
    clear_session_cookie(response, cookie_path)
    return response


def session_response(request: web.Request) -> web.Response:
    """Who is logged in, with the CSRF token for their writes (after the guard checked the session)."""
    return web.json_response(
        {"agent": request[AGENT].name, "csrf": csrf_token(request.cookies[SESSION_COOKIE])}
    )


@guarded(writes=True, session=False)
async def _login(request: web.Request) -> web.Response:
    return await login_response(request)


@guarded(writes=True, session=True)
async def _logout(request: web.Request) -> web.Response:
    return await logout_response(request)


@guarded(writes=False, session=True)
async def _session(request: web.Request) -> web.Response:
    return session_response(request)


def handoff_view(handoff: HandoffRecord, thread: list[dict[str, Any]]) -> dict[str, Any]:
    """One handoff as the inbox shows it: plain text only, customer text redacted."""
    state = card_state(handoff)
    packet = handoff.packet
    return {
        "id": handoff.id, "status": handoff.status, "reason": render.untrusted(handoff.reason, 500),
        "channel": handoff.channel, "conversation_id": handoff.conversation_id,
        "claimed_by": handoff.claimed_by_name, "created_at": handoff.created_at.isoformat(),
        "card_text": render.card_text(packet, state), "status_line": render.status_line(state),
        "facts": render.facts(packet, state), "transcript": render.transcript(packet),
        "packet": _redacted_packet(packet), "thread": thread,
    }  # fmt: skip


def _redacted_packet(packet: dict[str, Any]) -> dict[str, Any]:
    """The raw packet for API users, with the secrets removed from what the customer wrote."""
    transcript = [
        {**line, "text": render.untrusted(line.get("text"))} for line in packet.get("transcript", [])
    ]
    slots = {
        name: render.untrusted(value) if isinstance(value, str) else value
        for name, value in (packet.get("slots") or {}).items()
    }
    return {**packet, "transcript": transcript, "slots": slots}


@guarded(writes=False, session=True)
async def _list(request: web.Request) -> web.Response:
    store = request.app[INBOX_STORE]
    handoffs = await run_sync(store.list_recent)
    items = []
    for handoff in handoffs:
        thread = await run_sync(store.desk_thread, handoff.card_ts) if handoff.card_ts else []
        items.append(handoff_view(handoff, thread))
    return web.json_response({"handoffs": items})


@guarded(writes=True, session=True)
async def _act(request: web.Request) -> web.Response:
    """Claim, resolve or reply from the inbox page: the same relay calls Slack makes, as the account."""
    relay, store = request.app[INBOX_RELAY], request.app[INBOX_STORE]
    agent = request[AGENT].name  # never from the body: no one can sign as someone else
    body = await _json_object(request, '{"text": "..."}')
    handoff = await run_sync(store.get, int(request.match_info["id"]))
    if handoff is None:
        raise refuse(web.HTTPNotFound, "no such handoff")
    verb = request.match_info["verb"]
    if verb == "claim":
        result = await relay.claim(handoff.id, agent)
        return web.json_response({"status": result.status if result else HandoffStatus.RESOLVED})
    if verb == "resolve":
        result = await relay.resolve(handoff.id, agent)
        return web.json_response({"status": HandoffStatus.RESOLVED, "changed": result is not None})
    text = str(body.get("text") or "").strip()
    if not text:
        raise refuse(web.HTTPBadRequest, "the reply is empty")
    if handoff.card_ts is None:
        raise refuse(web.HTTPConflict, "the handoff card is still being posted; try again in a second")
    message_ts = f"local-reply.{uuid.uuid4().hex}"
    await run_sync(store.desk_post, author=agent, text=text, thread_ts=handoff.card_ts)
    outcome = await relay.on_agent_message(
        thread_ts=handoff.card_ts, message_ts=message_ts, agent_id=agent, text=text
    )
    return web.json_response({"outcome": outcome})
