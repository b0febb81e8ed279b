"""The metrics' part of the worker: follows Rasa's event broker and serves the counters.

The worker process (bot/worker.py) mounts it next to the handoff relay. Routes:

- ``GET /metrics`` — all-time counters in the Prometheus text format (scrape it, or read it)
- ``GET /metrics/daily?days=7`` — per-day counters plus the rates a support lead watches:
  ``contained`` (share of conversations that never needed a person) and ``understood``
  (share of customer messages the bot understood)

The worker's ``GET /health`` includes :func:`metrics_health` (the broker being followed and
how many events were counted); :func:`create_app` serves the metrics alone, with that
``/health``, for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.db import run_sync
from bot.event_stream import EventSource, consume
from bot.metrics.counting import DESCRIPTIONS
from bot.metrics.store import MetricsStore
from bot.stream_cursors import StreamCursors

logger = logging.getLogger(__name__)

CURSOR = "metrics"
STORE = web.AppKey("metrics_store", MetricsStore)
STATE = web.AppKey("metrics_state", dict)


def mount_metrics(
    app: web.Application, store: MetricsStore, events: EventSource, poll_interval: float = 0.5
) -> None:
    """Add the metrics routes and the event consumer that counts into ``store`` to ``app``."""
    app[STORE] = store
    app[STATE] = {"counted": 0, "source": events.url.split("@")[-1], "queue": events.queue}

    async def on_event(sender_id: str, event: dict[str, Any]) -> None:
        await on_batch([(sender_id, event)])

    async def on_batch(events: list[tuple[str, dict[str, Any]]]) -> None:
        app[STATE]["counted"] += await run_sync(store.record_many, events)

    async def counting(_app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        reading = consume(
            events, on_event, stop, cursor=CURSOR, cursors=StreamCursors(store.db), interval=poll_interval,
            on_batch=on_batch,
        )  # fmt: skip
        task = asyncio.create_task(reading)
        housekeeping = asyncio.create_task(_forget_old_keys(store, stop))
        logger.info("metrics: counting events from %s", app[STATE]["source"])
        yield
        stop.set()
        for running in (task, housekeeping):
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(running, timeout=10)

    app.cleanup_ctx.append(counting)
    app.router.add_get("/metrics", _prometheus)
    app.router.add_get("/metrics/daily", _daily)


def metrics_health(app: web.Application) -> dict[str, Any]:
    """What the metrics consumer follows and how many events it counted since it started."""
    return dict(app[STATE])


def create_app(store: MetricsStore, events: EventSource, poll_interval: float = 0.5) -> web.Application:
    """The metrics on their own, with a ``/health`` of their own."""
    app = web.Application()
    mount_metrics(app, store, events, poll_interval)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", **metrics_health(request.app)})

    app.router.add_get("/health", health)
    return app


async def _forget_old_keys(store: MetricsStore, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await run_sync(store.forget_old_keys, datetime.now(UTC).date())
        except Exception:  # housekeeping must never stop counting
            logger.exception("metrics: could not prune counted-event keys")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=3600)


async def _prometheus(request: web.Request) -> web.Response:
    totals = await run_sync(request.app[STORE].totals)
    return web.Response(text=prometheus_text(totals), content_type="text/plain", charset="utf-8")


async def _daily(request: web.Request) -> web.Response:
    try:
        days = max(1, min(366, int(request.query.get("days", "7"))))
    except ValueError:
        return web.json_response({"error": "days must be a whole number, e.g. ?days=7"}, status=400)
    since = datetime.now(UTC).date() - timedelta(days=days - 1)
    daily = await run_sync(request.app[STORE].daily, since)
    report = {day: {"counts": counts, **rates(counts)} for day, counts in sorted(daily.items())}
    return web.json_response(report)


def rates(counts: dict[str, dict[str, int]]) -> dict[str, float | None]:
    """Containment and understanding rates of one day's counters (None without data)."""
    conversations = sum(counts.get("conversations", {}).values())
    handoffs = sum(counts.get("handoffs", {}).values())
    messages = sum(counts.get("customer_messages", {}).values())
    not_understood = sum(counts.get("not_understood", {}).values())
    return {
        "contained": round(1 - min(handoffs, conversations) / conversations, 4) if conversations else None,
        "understood": round(1 - not_understood / messages, 4) if messages else None,
    }


def prometheus_text(totals: dict[tuple[str, str], int]) -> str:
    """Counters as ``supportbot_<name>_total{label="..."}`` lines."""
    label_names = {"customer_messages": "channel", "intents": "intent", "handoffs": "reason"}
    lines: list[str] = []
    for name, description in DESCRIPTIONS.items():
        metric = f"supportbot_{name}_total"
        lines += [f"# HELP {metric} {description}", f"# TYPE {metric} counter"]
        samples = sorted((label, value) for (n, label), value in totals.items() if n == name)
        for label, value in samples or [("", 0)]:
            if label and name in label_names:
                escaped = label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                lines.append(f'{metric}{{{label_names[name]}="{escaped}"}} {value}')
            else:
                lines.append(f"{metric} {value}")
    return "\n".join(lines) + "\n"
