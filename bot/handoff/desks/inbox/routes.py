"""The local inbox's page and JSON API: the same relay calls Slack's buttons and threads make.

- ``GET /inbox`` — the page (static HTML; it renders every value as DOM text, never as HTML)
- ``GET /inbox/api/handoffs`` — recent handoffs, rendered as plain text (redacted)
- ``POST /inbox/api/handoffs/{id}/reply|claim|resolve`` — ``{"agent": "name", "text": "..."}``

Customer text is untrusted: it reaches the page only as JSON strings that the page puts into
text nodes, so ``<img src=x onerror=…>`` typed by a customer is shown, not run.
"""

from __future__ import annotations

import uuid
from importlib import resources
from typing import Any

from aiohttp import web

from bot.db import run_sync
from bot.handoff.desks.base import card_state
from bot.handoff.desks.inbox import render
from bot.handoff.relay import Relay
from bot.handoff.states import HandoffStatus
from bot.handoff.store import HandoffRecord, HandoffStore

INBOX_RELAY = web.AppKey("inbox_relay", Relay)
INBOX_STORE = web.AppKey("inbox_store", HandoffStore)

# Defence in depth behind the page's text-only rendering: no inline or foreign script can
# run (the page's own script is /inbox/inbox.js), nothing loads from elsewhere.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def add_inbox_routes(app: web.Application, relay: Relay, store: HandoffStore) -> None:
    app[INBOX_RELAY], app[INBOX_STORE] = relay, store
    app.router.add_get("/inbox", _page)
    app.router.add_get("/inbox/inbox.js", _script)
    app.router.add_get("/inbox/api/handoffs", _list)
    app.router.add_post("/inbox/api/handoffs/{id:\\d+}/{verb:reply|claim|resolve}", _act)


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


async def _page(request: web.Request) -> web.Response:
    return web.Response(text=_asset("inbox.html"), content_type="text/html", headers=PAGE_HEADERS)


async def _script(request: web.Request) -> web.Response:
    return web.Response(text=_asset("inbox.js"), content_type="text/javascript", headers=PAGE_HEADERS)


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


async def _list(request: web.Request) -> web.Response:
    store = request.app[INBOX_STORE]
    handoffs = await run_sync(store.list_recent)
    items = []
    for handoff in handoffs:
        thread = await run_sync(store.desk_thread, handoff.card_ts) if handoff.card_ts else []
        items.append(handoff_view(handoff, thread))
    return web.json_response({"handoffs": items})


async def _act(request: web.Request) -> web.Response:
    """Claim, resolve or reply from the inbox page: the same relay calls Slack makes."""
    relay, store = request.app[INBOX_RELAY], request.app[INBOX_STORE]
    handoff = await run_sync(store.get, int(request.match_info["id"]))
    if handoff is None:
        raise web.HTTPNotFound(text="no such handoff")
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='send JSON: {"agent": "your name", "text": "..."}') from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='send a JSON object: {"agent": "your name", "text": "..."}')
    agent = str(body.get("agent") or "").strip()[:80]
    if not agent:
        raise web.HTTPBadRequest(text="say who you are: an 'agent' name is required")
    verb = request.match_info["verb"]
    if verb == "claim":
        result = await relay.claim(handoff.id, agent)
        return web.json_response({"status": result.status if result else HandoffStatus.RESOLVED})
    if verb == "resolve":
        result = await relay.resolve(handoff.id, agent)
        return web.json_response({"status": HandoffStatus.RESOLVED, "changed": result is not None})
    text = str(body.get("text") or "").strip()
    if not text:
        raise web.HTTPBadRequest(text="the reply is empty")
    if handoff.card_ts is None:
        raise web.HTTPConflict(text="the handoff card is still being posted; try again in a second")
    message_ts = f"local-reply.{uuid.uuid4().hex}"
    await run_sync(store.desk_post, author=agent, text=text, thread_ts=handoff.card_ts)
    outcome = await relay.on_agent_message(
        thread_ts=handoff.card_ts, message_ts=message_ts, agent_id=agent, text=text
    )
    return web.json_response({"outcome": outcome})
