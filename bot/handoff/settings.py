"""Where the relay connects: Slack (optional), the Rasa server, the event stream.

All from environment variables, so the same code runs natively and in docker-compose:

- ``SLACK_BOT_TOKEN`` (xoxb-…), ``SLACK_SIGNING_SECRET``, ``SLACK_HANDOFF_CHANNEL``
  (channel id or #name): with all three set, handoffs go to Slack; without them, to the
  local agent inbox at ``/inbox`` on the relay.
- ``SLACK_MODE``: ``http`` (default; Slack posts to ``/slack/events``) or ``socket``
  (Socket Mode, needs ``SLACK_APP_TOKEN`` xapp-…; nothing has to be reachable from Slack).
- ``SLACK_API_URL``: Slack Web API base URL (tests point it at a fake server).
- ``RASA_URL`` / ``RASA_AUTH_TOKEN``: the Rasa server's HTTP API.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml


class RelaySettingsError(ValueError):
    """The relay is configured in a way that cannot work; the message says how to fix it."""


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str
    signing_secret: str
    channel: str
    mode: str = "http"
    app_token: str | None = None
    api_url: str | None = None


@dataclass(frozen=True)
class EventSource:
    """Where the relay reads Rasa's events: an SQL table, or a RabbitMQ queue."""

    kind: str  # "sql" or "rabbitmq"
    url: str  # SQLAlchemy URL, or amqp:// URL
    queue: str | None = None  # RabbitMQ queue name


@dataclass(frozen=True)
class RelaySettings:
    rasa_url: str
    rasa_token: str | None
    events: EventSource
    slack: SlackSettings | None
    poll_interval: float = 0.2


def slack_settings(environ: dict[str, str] | None = None) -> SlackSettings | None:
    """Slack settings from the environment; None for the local agent inbox."""
    env = os.environ if environ is None else environ
    token, secret, channel = (
        env.get(k, "").strip() for k in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_HANDOFF_CHANNEL")
    )
    if not (token or secret or channel):
        return None
    missing = [
        name
        for name, value in (
            ("SLACK_BOT_TOKEN", token),
            ("SLACK_SIGNING_SECRET", secret),
            ("SLACK_HANDOFF_CHANNEL", channel),
        )
        if not value
    ]
    if missing:
        raise RelaySettingsError(
            f"Slack handoff is half configured: set {', '.join(missing)} too (see README, "
            "'Connect Slack'), or unset all SLACK_* variables to use the local agent inbox."
        )
    mode = env.get("SLACK_MODE", "http").strip().lower() or "http"
    app_token = env.get("SLACK_APP_TOKEN", "").strip() or None
    if mode not in ("http", "socket"):
        raise RelaySettingsError(f"SLACK_MODE must be 'http' or 'socket', not {mode!r}")
    if mode == "socket" and not app_token:
        raise RelaySettingsError("SLACK_MODE=socket needs SLACK_APP_TOKEN (an xapp-… app-level token)")
    return SlackSettings(
        bot_token=token,
        signing_secret=secret,
        channel=channel,
        mode=mode,
        app_token=app_token,
        api_url=env.get("SLACK_API_URL", "").strip() or None,
    )


def event_source(endpoints_file: Path) -> EventSource:
    """The event broker named in the endpoints file Rasa runs with, as the relay reads it."""
    config: dict[str, Any] = yaml.safe_load(endpoints_file.read_text(encoding="utf-8")) or {}
    broker = config.get("event_broker") or {}
    kind = str(broker.get("type", "")).lower()
    if kind == "pika":
        return _rabbitmq(broker)
    if kind != "sql":
        raise RelaySettingsError(
            f"{endpoints_file}: the handoff relay follows Rasa's events through its event broker; "
            "add `event_broker: {type: SQL, dialect: sqlite, db: .data/broker.db}` (see endpoints.yml) "
            "or a `type: pika` RabbitMQ broker (see endpoints.production.yml)"
        )
    dialect = broker.get("dialect", "sqlite")
    db = _expand(str(broker.get("db", "events.db")))
    if dialect == "sqlite":
        return EventSource("sql", f"sqlite:///{db}")
    user = _expand(str(broker.get("username", "")))
    password = _expand(str(broker.get("password", "")))
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = _expand(str(broker.get("url", "localhost")))
    port = broker.get("port")
    return EventSource("sql", f"{dialect}://{auth}{host}{':' + _expand(str(port)) if port else ''}/{db}")


def _rabbitmq(broker: dict[str, Any]) -> EventSource:
    queues = broker.get("queues") or broker.get("queue") or []
    queue = _expand(str(queues[0] if isinstance(queues, list) and queues else queues or ""))
    if not queue:
        raise RelaySettingsError(
            "event_broker (pika) needs `queues: [handoff_relay]`: the relay consumes the first"
        )
    user = quote(_expand(str(broker.get("username", "guest"))), safe="")
    password = quote(_expand(str(broker.get("password", "guest"))), safe="")
    host = _expand(str(broker.get("url", "localhost")))
    port = _expand(str(broker.get("port", 5672)))
    return EventSource("rabbitmq", f"amqp://{user}:{password}@{host}:{port}/", queue)


def _expand(value: str) -> str:
    """Rasa's ``${VAR}`` syntax in endpoint files."""
    return os.path.expandvars(value)
