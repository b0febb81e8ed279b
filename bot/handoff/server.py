"""The handoff relay's part of the worker: Slack endpoint (or local inbox), event consumer, outbox.

The worker process (bot/worker.py, ``python -m bot worker``) mounts it next to the metrics.
Routes:

- ``POST /slack/events`` — Slack Events API and interactivity (HTTP mode)
- ``/inbox`` — the local agent inbox, behind agent accounts, only when :func:`inbox_enabled`
  (``INBOX_ENABLED``; default: only without Slack)

The worker's ``GET /health`` includes :func:`relay_health` (which desk is in use and how
many deliveries are pending).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

from bot.business import load_business_settings
from bot.customers import CustomerStore
from bot.db import run_sync
from bot.event_stream import CURSOR, consume
from bot.handoff.desks import Desk
from bot.handoff.desks.inbox import InboxDesk
from bot.handoff.desks.inbox.accounts import AgentAccounts
from bot.handoff.desks.inbox.guard import InboxPolicy
from bot.handoff.desks.inbox.routes import add_agent_command, add_inbox_routes
from bot.handoff.desks.slack import SlackDesk
from bot.handoff.desks.slack.home import run_home
from bot.handoff.desks.slack.posts import SlackPosts
from bot.handoff.rasa_api import RasaAPI
from bot.handoff.relay import Relay
from bot.handoff.settings import RelaySettings
from bot.handoff.sla_job import sla_loop
from bot.handoff.slack_app import build_slack_app, slack_client
from bot.handoff.store import HandoffStore
from bot.outbox import OutboxWorker, all_queues
from bot.settings import settings as process_settings
from bot.stream_cursors import StreamCursors

logger = logging.getLogger(__name__)

RELAY = web.AppKey("relay", Relay)
STORE = web.AppKey("store", HandoffStore)


def mount_relay(app: web.Application, settings: RelaySettings, customers: CustomerStore) -> Relay:
    """Add the relay's routes and background work (event consumer, outbox, claim timeouts) to ``app``."""
    store = HandoffStore(customers)
    handoff_settings = load_business_settings().handoff
    rasa = RasaAPI(settings.rasa_url, settings.rasa_token)
    desk: Desk
    if settings.slack is not None:
        client = slack_client(settings.slack)
        desk = SlackDesk(client, settings.slack.channel, SlackPosts(store.db))
    else:
        desk = InboxDesk(store)
    relay = Relay(store, desk, rasa, handoff_settings)

    app[RELAY], app[STORE] = relay, store
    if inbox_enabled(settings.slack is not None):
        inbox = process_settings().inbox
        accounts = AgentAccounts(customers)
        add_inbox_routes(
            app, relay, store, accounts, InboxPolicy.from_settings(inbox.public_host, inbox.session_hours)
        )
        if not accounts.count():
            logger.warning("the agent inbox has no accounts yet: create one with `%s`", add_agent_command())
    elif settings.slack is None:
        logger.warning(
            "INBOX_ENABLED=false and Slack is not configured: handoffs are kept, but no agent can see them "
            "(set INBOX_ENABLED=true or configure Slack, docs/slack.md)"
        )

    slack_app = build_slack_app(relay, settings.slack, client) if settings.slack else None
    if slack_app is not None and settings.slack.mode == "http":

        async def slack_events(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await slack_app.async_dispatch(await to_bolt_request(request)))

        app.router.add_post("/slack/events", slack_events)

    async def background(app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        events = settings.events
        reading = consume(
            events,
            relay.on_rasa_event,
            stop,
            cursor=CURSOR,
            cursors=StreamCursors(customers),
            interval=settings.poll_interval,
        )
        worker = OutboxWorker(
            store.outbox(), relay.deliver, interval=settings.poll_interval, on_dead=relay.on_dead_letter
        )
        tasks = [
            asyncio.create_task(reading),
            asyncio.create_task(worker.run(stop)),
            asyncio.create_task(_check_timeouts(relay, stop)),
            asyncio.create_task(sla_loop(store, handoff_settings, stop)),
            asyncio.create_task(run_home(slack_app, stop)),
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
    return relay


def inbox_enabled(slack_configured: bool) -> bool:
    """``INBOX_ENABLED`` if set; otherwise only without Slack (a second door to the handoffs is opt-in)."""
    enabled = process_settings().inbox.enabled
    return (not slack_configured) if enabled is None else enabled


async def _check_timeouts(relay: Relay, stop: asyncio.Event) -> None:
    interval = max(0.5, min(15.0, relay.settings.claim_timeout.total_seconds() / 4))
    while not stop.is_set():
        try:
            await relay.check_timeouts()
        except Exception:
            logger.exception("claim-timeout check failed; trying again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def relay_health(app: web.Application) -> dict[str, Any]:
    """The relay's part of the worker's ``/health``: its desk, the deliveries waiting and the dead letters."""
    pending = await run_sync(app[STORE].outbox().pending_count)
    dead = await run_sync(all_queues(app[STORE].db.session).dead_count)  # X's too: one number to alert on
    return {"desk": app[RELAY].desk.name, "pending_deliveries": pending, "dead_letters": dead}
