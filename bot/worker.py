"""The worker process (``python -m bot worker``): everything that runs once, beside the Rasa replicas.

Rasa replicas only serve conversations, so they can be added or restarted freely. What
must run exactly once lives here, in one process with one aiohttp app on one port:

- the handoff relay (bot/handoff/server.py): ``/slack/events``, the local inbox ``/inbox``,
  the relay's event consumer and its outbox to Slack and customers;
- the metrics (bot/metrics/service.py): ``/metrics``, ``/metrics/daily`` and their consumer;
- the customer-experience dashboard (bot/experience/dashboard.py): ``/dashboard``, behind the
  agent inbox's accounts and login (mounted with Slack too, where the inbox is off);
- the weekly customer-experience digest to Slack or the inbox, once per ISO week
  (bot/experience/digest_job.py; business.yml ``digest:``);
- with X configured, the X poller and the X outbox delivery (bot/channels/x_worker.py);
- ``GET /health``: all of the above in one answer (with ``METRICS_TOKEN``; without it only
  ``{"status": "ok"}``, enough for a probe and nothing for a stranger).

``/metrics`` needs ``Authorization: Bearer <METRICS_TOKEN>`` (bot/http_auth.py); bodies are
capped at ``SUPPORTBOT_MAX_BODY_BYTES`` (413 above).

Both consumers read the broker through ``bot.event_stream.consume``, each with its own
cursor (SQL broker) or its own durable queue (RabbitMQ: ``RABBITMQ_QUEUE`` for the relay,
``RABBITMQ_METRICS_QUEUE`` for the metrics), so one can never take the other's events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from bot.channels.x_api import XSettings, XSettingsError, x_settings
from bot.channels.x_store import XStore
from bot.channels.x_worker import run_x
from bot.customers import CustomerStore
from bot.event_stream import EventSource, event_source
from bot.experience.dashboard import mount_worker_dashboard
from bot.experience.digest_job import mount_digest
from bot.handoff.desks.inbox.accounts import AgentAccounts
from bot.handoff.server import mount_relay, relay_health
from bot.handoff.settings import RelaySettings, slack_settings
from bot.http_auth import bearer_middleware, has_bearer
from bot.internal_tokens import internal_tokens
from bot.metrics import MetricsStore
from bot.metrics.service import metrics_health, mount_metrics
from bot.retention.prune import Pruner, pruner, pruning_context
from bot.settings import data_dir
from bot.settings import settings as process_settings

X_CHANNEL_KEY = "bot.channels.x.XInput"  # the X channel's section in credentials.yml
X_MODE = web.AppKey("x_mode", str)
METRICS_TOKEN = web.AppKey("metrics_token", str)


@dataclass(frozen=True)
class WorkerSettings:
    """Everything the worker connects to; built once at start-up, errors name the fix."""

    relay: RelaySettings
    metrics_events: EventSource
    x: XSettings | None
    database_url: str
    metrics_token: str = ""
    max_body_bytes: int = 65536
    pruning: Pruner | None = None  # bot/retention/prune.py, every retention.prune_every_hours
    endpoints_file: Path | None = None  # the dashboard's reports read Rasa's tracker store through it


def worker_settings(
    *,
    endpoints: Path,
    credentials: Path,
    rasa_url: str,
    relay_queue: str | None,
    metrics_queue: str | None,
    database_url: str,
) -> WorkerSettings:
    """Raises RelaySettingsError, EventSourceError or XSettingsError with what to change."""
    tokens = internal_tokens()
    return WorkerSettings(
        relay=RelaySettings(
            rasa_url=rasa_url,
            rasa_token=tokens.rasa_auth_token,
            events=event_source(endpoints, relay_queue),
            slack=slack_settings(),
        ),
        metrics_events=event_source(endpoints, metrics_queue),
        x=_x_settings(credentials),
        database_url=database_url,
        metrics_token=tokens.metrics_token,
        max_body_bytes=process_settings().security.max_body_bytes,
        pruning=pruner(database_url, endpoints, data_dir()),
        endpoints_file=endpoints,
    )


def _x_settings(credentials: Path) -> XSettings | None:
    """The X settings Rasa's X channel uses: its credentials.yml section, then X_* variables."""
    section: dict[str, Any] = {}
    if credentials.exists():
        document = yaml.safe_load(credentials.read_text(encoding="utf-8")) or {}
        section = document.get(X_CHANNEL_KEY) or {}
    values = dict(section)  # x_settings expands ${VAR} (bot/credentials.py)
    try:
        return x_settings(values)
    except XSettingsError as exc:
        raise XSettingsError(f"{credentials} / environment: {exc}") from exc


def create_app(settings: WorkerSettings) -> web.Application:
    customers = CustomerStore(settings.database_url)
    if not settings.metrics_token:
        raise ValueError("the worker needs METRICS_TOKEN (bot/internal_tokens.py sets one)")
    guard = bearer_middleware(settings.metrics_token, ("/metrics",), "METRICS_TOKEN")
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[guard])
    app[METRICS_TOKEN] = settings.metrics_token
    mount_relay(app, settings.relay, customers)
    mount_metrics(app, MetricsStore(customers), settings.metrics_events)
    if settings.endpoints_file is not None:  # /dashboard, behind the inbox's agent accounts
        mount_worker_dashboard(app, settings.endpoints_file, settings.database_url, AgentAccounts(customers))
    mount_digest(app, settings)  # the weekly digest to Slack or the inbox (bot/experience/digest_job.py)
    app[X_MODE] = settings.x.mode if settings.x else "off"
    if settings.x is not None:
        app.cleanup_ctx.append(_x_background(settings.x, XStore(customers), settings.relay.rasa_url))
    if settings.pruning is not None:
        app.cleanup_ctx.append(pruning_context(settings.pruning))
    app.router.add_get("/health", _health)
    return app


def _x_background(settings: XSettings, store: XStore, rasa_url: str) -> Any:
    async def background(_app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(run_x(settings, store, rasa_url, stop))
        yield
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout=10)

    return background


async def _health(request: web.Request) -> web.Response:
    app = request.app
    if not has_bearer(request, app[METRICS_TOKEN]):
        return web.json_response({"status": "ok"})
    return web.json_response({
        "status": "ok", **await relay_health(app), "metrics": metrics_health(app), "x": app[X_MODE],
    })  # fmt: skip


def serve(settings: WorkerSettings, host: str, port: int) -> None:
    web.run_app(create_app(settings), host=host, port=port, print=None, access_log=None)
