"""The relay process: Slack endpoint (or local inbox), event-stream follower, outbox worker.

``python -m bot relay`` runs this; ``python -m bot run`` starts it next to Rasa and the
action server. Routes:

- ``POST /slack/events`` — Slack Events API and interactivity (HTTP mode)
- ``GET /inbox`` — the local agent inbox (always there; the only desk without Slack)
- ``GET /health`` — which desk is in use and how many deliveries are pending
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

from bot.business import load_business_settings
from bot.customers import CustomerStore, run_sync
from bot.event_stream import SQLEventStream, follow, follow_rabbitmq
from bot.handoff import blocks
from bot.handoff.desk import AgentDesk, LocalDesk, SlackDesk
from bot.handoff.rasa_api import RasaAPI
from bot.handoff.redact import RedactingFilter, redact
from bot.handoff.relay import Relay, card_state
from bot.handoff.settings import RelaySettings
from bot.handoff.slack_app import build_slack_app, slack_client
from bot.handoff.store import HandoffStore
from bot.outbox import OutboxWorker

logger = logging.getLogger(__name__)

RELAY = web.AppKey("relay", Relay)
STORE = web.AppKey("store", HandoffStore)


def create_app(settings: RelaySettings, customers: CustomerStore) -> web.Application:
    customers.create_schema()
    store = HandoffStore(customers)
    handoff_settings = load_business_settings().handoff
    rasa = RasaAPI(settings.rasa_url, settings.rasa_token)
    desk: AgentDesk
    if settings.slack is not None:
        client = slack_client(settings.slack)
        desk = SlackDesk(client, settings.slack.channel)
    else:
        desk = LocalDesk(store)
    relay = Relay(store, desk, rasa, handoff_settings)

    app = web.Application()
    app[RELAY], app[STORE] = relay, store
    app.router.add_get("/health", _health)
    app.router.add_get("/inbox", _inbox_page)
    app.router.add_get("/inbox/api/handoffs", _inbox_list)
    app.router.add_post("/inbox/api/handoffs/{id:\\d+}/{verb:reply|claim|resolve}", _inbox_act)

    slack_app = build_slack_app(relay, settings.slack, client) if settings.slack else None
    if slack_app is not None and settings.slack.mode == "http":

        async def slack_events(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await slack_app.async_dispatch(await to_bolt_request(request)))

        app.router.add_post("/slack/events", slack_events)

    async def background(app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        events = settings.events
        if events.kind == "rabbitmq":
            reading = follow_rabbitmq(events.url, events.queue or "", relay.on_rasa_event, stop)
        else:
            reading = follow(
                SQLEventStream(events.url), store, relay.on_rasa_event, stop, settings.poll_interval
            )
        worker = OutboxWorker(store.outbox(), relay.deliver, interval=settings.poll_interval)
        tasks = [
            asyncio.create_task(reading),
            asyncio.create_task(worker.run(stop)),
            asyncio.create_task(_check_timeouts(relay, stop)),
        ]
        socket_handler = None
        if slack_app is not None and settings.slack.mode == "socket":
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket_handler = AsyncSocketModeHandler(slack_app, settings.slack.app_token)
            await socket_handler.connect_async()
        logger.info("relay ready: desk=%s, events from %s", desk.name, events.url.split("@")[-1])
        yield
        stop.set()
        if socket_handler is not None:
            await socket_handler.close_async()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)

    app.cleanup_ctx.append(background)
    return app


async def _check_timeouts(relay: Relay, stop: asyncio.Event) -> None:
    interval = max(0.5, min(15.0, relay.settings.claim_timeout.total_seconds() / 4))
    while not stop.is_set():
        try:
            await relay.check_timeouts()
        except Exception:
            logger.exception("claim-timeout check failed; trying again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def _health(request: web.Request) -> web.Response:
    relay = request.app[RELAY]
    pending = await run_sync(request.app[STORE].outbox().pending_count)
    return web.json_response({"status": "ok", "desk": relay.desk.name, "pending_deliveries": pending})


# --- local agent inbox ------------------------------------------------------------------


async def _inbox_page(request: web.Request) -> web.Response:
    page = resources.files("bot.handoff").joinpath("inbox.html").read_text(encoding="utf-8")
    return web.Response(text=page, content_type="text/html")


async def _inbox_list(request: web.Request) -> web.Response:
    store = request.app[STORE]
    handoffs = await run_sync(store.list_recent)
    items = []
    for handoff in handoffs:
        thread = await run_sync(store.desk_thread, handoff.card_ts) if handoff.card_ts else []
        items.append({
            "id": handoff.id, "status": handoff.status, "reason": handoff.reason,
            "channel": handoff.channel, "conversation_id": handoff.conversation_id,
            "claimed_by": handoff.claimed_by_name, "created_at": handoff.created_at.isoformat(),
            "card_text": blocks.card_text(handoff.packet, card_state(handoff)),
            "packet": _redacted_packet(handoff.packet), "thread": thread,
        })  # fmt: skip
    return web.json_response({"handoffs": items})


def _redacted_packet(packet: dict[str, Any]) -> dict[str, Any]:
    """The packet as the inbox page shows it: secrets removed, like on a Slack card."""
    transcript = [
        {**line, "text": redact(str(line.get("text") or ""))} for line in packet.get("transcript", [])
    ]
    return {**packet, "transcript": transcript}


async def _inbox_act(request: web.Request) -> web.Response:
    """Claim, resolve or reply from the inbox page: the same relay calls Slack makes."""
    relay, store = request.app[RELAY], request.app[STORE]
    handoff = await run_sync(store.get, int(request.match_info["id"]))
    if handoff is None:
        raise web.HTTPNotFound(text="no such handoff")
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='send JSON: {"agent": "your name", "text": "..."}') from None
    agent = str(body.get("agent") or "").strip()[:80]
    if not agent:
        raise web.HTTPBadRequest(text="say who you are: an 'agent' name is required")
    verb = request.match_info["verb"]
    if verb == "claim":
        result = await relay.claim(handoff.id, agent)
        return web.json_response({"status": result.status if result else "resolved"})
    if verb == "resolve":
        result = await relay.resolve(handoff.id, agent)
        return web.json_response({"status": "resolved", "changed": result is not None})
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


def install_log_redaction() -> None:
    """Secrets in customer text never reach the relay's logs either."""
    redacting = RedactingFilter()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)
