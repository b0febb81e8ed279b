"""Saved replies in the local inbox: search with previews, then send one, as the logged-in agent.

- ``GET /inbox/api/handoffs/{id}/saved-replies?q=words&order=HL-…`` — the matching replies, each
  filled in for this handoff (``text``) or with what is missing (``problems``), and the
  customer's orders to pick from. Nothing is sent: this is the preview.
- ``POST /inbox/api/handoffs/{id}/saved-reply`` ``{"reply", "order", "nonce"}`` — send it. The
  page makes ``nonce`` once per preview, so a double click or a retry sends once.

The same guard as every inbox call (host, session; for the send also origin, JSON and CSRF),
and the same path as a typed reply (bot/handoff/saved_reply_delivery.py). The agent is the
logged-in account, never the body's. Values are plain text (the page renders text nodes);
what the customer could have written in them is redacted (bot/handoff/saved_replies.py).
"""

from __future__ import annotations

import re

from aiohttp import web

from bot.db import run_sync
from bot.handoff.desks.inbox.guard import AGENT, guarded, refuse
from bot.handoff.relay import Relay
from bot.handoff.saved_replies import Library, orders_of
from bot.handoff.saved_reply_delivery import fill, send
from bot.handoff.store import HandoffRecord

SAVED_REPLIES = web.AppKey("inbox_saved_replies", Library)
SAVED_RELAY = web.AppKey("inbox_saved_replies_relay", Relay)
NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_MATCHES = 20


def add_saved_reply_routes(app: web.Application, relay: Relay, library: Library) -> None:
    """Mount the two routes next to the inbox's (bot/handoff/desks/inbox/routes.py)."""
    app[SAVED_REPLIES], app[SAVED_RELAY] = library, relay
    app.router.add_get("/inbox/api/handoffs/{id:\\d+}/saved-replies", _previews)
    app.router.add_post("/inbox/api/handoffs/{id:\\d+}/saved-reply", _send)


async def _handoff(request: web.Request) -> HandoffRecord:
    handoff = await run_sync(request.app[SAVED_RELAY].store.get, int(request.match_info["id"]))
    if handoff is None:
        raise refuse(web.HTTPNotFound, "no such handoff")
    return handoff


@guarded(writes=False, session=True)
async def _previews(request: web.Request) -> web.Response:
    handoff, library, agent = await _handoff(request), request.app[SAVED_REPLIES], request[AGENT].name
    order = request.query.get("order") or None
    items = []
    for reply in library.search(request.query.get("q", ""), MAX_MATCHES):
        rendered = await fill(request.app[SAVED_RELAY], library, handoff, reply.id, order, agent)
        if rendered is not None:
            items.append({"id": reply.id, "title": reply.title, "text": rendered.text,
                          "problems": list(rendered.problems), "order": rendered.order_number})  # fmt: skip
    orders = [str(o["number"]) for o in orders_of(handoff.packet)]
    return web.json_response({"replies": items, "orders": orders})


@guarded(writes=True, session=True)
async def _send(request: web.Request) -> web.Response:
    handoff, library, agent = await _handoff(request), request.app[SAVED_REPLIES], request[AGENT].name
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise refuse(web.HTTPBadRequest, 'send a JSON object: {"reply": "tracking", "nonce": "…"}')
    nonce = str(body.get("nonce") or "")
    if not NONCE.fullmatch(nonce):
        raise refuse(web.HTTPBadRequest, "nonce must be 8–64 letters, digits, - or _, new for each preview")
    if handoff.card_ts is None:
        raise refuse(web.HTTPConflict, "the handoff card is still being posted; try again in a second")
    order = str(body.get("order") or "") or None
    rendered = await fill(
        request.app[SAVED_RELAY], library, handoff, str(body.get("reply") or ""), order, agent
    )
    if rendered is None:
        raise refuse(web.HTTPNotFound, "no saved reply with that id (was saved_replies.yml changed?)")
    if rendered.text is None:
        return web.json_response(
            {"outcome": "missing-values", "problems": list(rendered.problems)}, status=409
        )
    outcome = await send(
        request.app[SAVED_RELAY], handoff, rendered, agent, f"saved:{handoff.id}:{agent}:{nonce}"
    )
    return web.json_response({"outcome": outcome, "text": rendered.text})
