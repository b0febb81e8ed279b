"""The settings' sections: what each knob is, its source (env/YAML), default and meaning.

Declarations only: bot/settings.py reads the environment and builds these; a new setting
is one field here (and ``python -m bot.settings_reference`` regenerates
docs/configuration.md, which a test keeps equal to these dataclasses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value that cannot work; the message names the setting and the fix."""


def meta(doc: str, env: str | None = None, yaml: str | None = None, **extra: Any) -> dict[str, Any]:
    """A field's documentation and sources (``kind="port"``: a TCP port; ``secret``: masked in repr)."""
    return {"doc": doc, "env": env, "yaml": yaml, **extra}


@dataclass(frozen=True)
class PathSettings:
    """Files and directories."""

    project_root: Path = field(
        default=PROJECT_ROOT,
        metadata=meta("checkout with domain.yml and nlu_data/", "SUPPORTBOT_PROJECT_ROOT"),
    )
    data_dir: Path | None = field(
        default=None, metadata=meta("SQLite files and logs (default: `.data/`)", "SUPPORTBOT_DATA_DIR")
    )
    cache_dir: Path | None = field(
        default=None,
        metadata=meta(
            "trained models (default: `$XDG_CACHE_HOME/hearthlink-supportbot`)", "SUPPORTBOT_CACHE_DIR"
        ),
    )
    xdg_cache_home: Path | None = field(
        default=None, metadata=meta("the user's cache directory (default: `~/.cache`)", "XDG_CACHE_HOME")
    )
    business_file: Path | None = field(
        default=None,
        metadata=meta(
            "another business.yml (default: `business.yml` in the project root)", "SUPPORTBOT_BUSINESS_FILE"
        ),
    )
    saved_replies_file: Path | None = field(
        default=None,
        metadata=meta(
            "another saved-replies library (default: `saved_replies.yml` in the project root)",
            "SUPPORTBOT_SAVED_REPLIES_FILE",
        ),
    )


@dataclass(frozen=True)
class DatabaseSettings:
    """The customer store's database."""

    url: str | None = field(
        default=None,
        metadata=meta(
            "SQLAlchemy URL of customers, handoffs, outbox, metrics (default: SQLite in the data directory)",
            "SUPPORTBOT_DATABASE_URL", secret=True,
        ),
    )  # fmt: skip


@dataclass(frozen=True)
class RasaSettings:
    """Rasa and the action server."""

    url: str = field(
        default="http://127.0.0.1:5005", metadata=meta("Rasa's HTTP API, for the worker", "RASA_URL")
    )
    auth_token: str | None = field(
        default=None,
        metadata=meta("token of Rasa's HTTP API (`--auth-token`)", "RASA_AUTH_TOKEN", secret=True),
    )
    port: int = field(
        default=5005, metadata=meta("port of Rasa or of the production front", "RASA_PORT", kind="port")
    )
    actions_port: int = field(
        default=5055, metadata=meta("port of the action server", "ACTIONS_PORT", kind="port")
    )
    api_port: int = field(
        default=5008,
        metadata=meta("`--production`: Rasa's HTTP API via HAProxy, loopback", "RASA_API_PORT", kind="port"),
    )
    speedups: bool = field(
        default=True,
        metadata=meta(
            "apply bot/speedups/ in the Rasa process (false: Rasa 3.6 exactly as released, slower; "
            "for telling whether a problem is ours)",
            "SUPPORTBOT_RASA_SPEEDUPS",
        ),
    )


@dataclass(frozen=True)
class WorkerSettings:
    """The worker (handoff relay, agent inbox, metrics, X)."""

    host: str = field(default="127.0.0.1", metadata=meta("address the worker binds", "WORKER_HOST"))
    port: int | None = field(
        default=None,
        metadata=meta(
            "worker port: /slack/events, /inbox, /metrics (default 5006)",
            "WORKER_PORT",
            kind="port",
            example=5006,
        ),
    )
    relay_port: int | None = field(
        default=None, metadata=meta("older name of WORKER_PORT", "RELAY_PORT", kind="port", example=5006)
    )
    relay_queue: str | None = field(
        default=None,
        metadata=meta("RabbitMQ queue of the relay (default: the first in endpoints)", "RABBITMQ_QUEUE"),
    )
    metrics_queue: str = field(
        default="metrics", metadata=meta("RabbitMQ queue of the metrics", "RABBITMQ_METRICS_QUEUE")
    )
    slack_home_refresh_seconds: int = field(
        default=5,
        metadata=meta(
            "seconds between App Home refreshes: each agent's queue view is re-sent only if it changed",
            "SLACK_HOME_REFRESH_SECONDS",
        ),
    )

    @property
    def listen_port(self) -> int:
        return self.port or self.relay_port or 5006


@dataclass(frozen=True)
class InboxSettings:
    """The local agent inbox (`/inbox` on the worker): when it is served and who may reach it.

    Why "auto" by default: without Slack the inbox is the only place agents can work, so it
    is served (behind agent accounts: ``python -m bot agents add NAME``); with Slack
    configured it would only be a second door to the same handoffs, so it stays off unless
    ``INBOX_ENABLED=true`` asks for it.
    """

    enabled: bool | None = field(
        default=None,
        metadata=meta(
            "serve /inbox: `true`, `false`, or unset = only when Slack is not configured",
            "INBOX_ENABLED",
        ),
    )
    public_host: str | None = field(
        default=None,
        metadata=meta(
            "host name(s), comma-separated, agents use to reach /inbox besides localhost "
            "(any other Host or Origin is refused: DNS rebinding, cross-site requests)",
            "INBOX_PUBLIC_HOST",
        ),
    )
    session_hours: int = field(
        default=12, metadata=meta("how long an agent's login lasts, in hours", "INBOX_SESSION_HOURS")
    )


@dataclass(frozen=True)
class ProductionSettings:
    """Production stores (`run --production`, docker-compose, endpoints.production.yml)."""

    db_host: str = field(default="127.0.0.1", metadata=meta("PostgreSQL host", "DB_HOST"))
    db_port: int = field(default=5432, metadata=meta("PostgreSQL port", "DB_PORT", kind="port"))
    db_user: str = field(default="postgres", metadata=meta("PostgreSQL user", "DB_USER"))
    db_password: str = field(default="", metadata=meta("PostgreSQL password", "DB_PASSWORD", secret=True))
    db_name: str = field(
        default="supportbot", metadata=meta("PostgreSQL database (created if missing)", "DB_NAME")
    )
    redis_host: str = field(
        default="127.0.0.1", metadata=meta("Redis host (lock store, web chat)", "REDIS_HOST")
    )
    redis_port: int = field(default=6379, metadata=meta("Redis port", "REDIS_PORT", kind="port"))
    redis_password: str = field(
        default="", metadata=meta("Redis password (compose requires one)", "REDIS_PASSWORD", secret=True)
    )
    rabbitmq_host: str = field(
        default="127.0.0.1", metadata=meta("RabbitMQ host (event broker)", "RABBITMQ_HOST")
    )
    rabbitmq_port: int = field(default=5672, metadata=meta("RabbitMQ port", "RABBITMQ_PORT", kind="port"))
    rabbitmq_user: str = field(default="guest", metadata=meta("RabbitMQ user", "RABBITMQ_USER"))
    rabbitmq_password: str = field(
        default="guest", metadata=meta("RabbitMQ password", "RABBITMQ_PASSWORD", secret=True)
    )
    webchat_redis_url: str | None = field(
        default=None, metadata=meta("Redis URL for web-chat rooms shared by replicas", "WEBCHAT_REDIS_URL")
    )
    haproxy_stats_port: int = field(
        default=5009,
        metadata=meta("HAProxy's stats and /health, loopback", "HAPROXY_STATS_PORT", kind="port"),
    )
    haproxy: str | None = field(
        default=None, metadata=meta("the haproxy executable (default: from the PATH)", "SUPPORTBOT_HAPROXY")
    )


@dataclass(frozen=True)
class SecuritySettings:
    """Credentials between our own processes, and limits on what strangers can send.

    Every internal token left unset is generated on the first start and kept in the data
    directory (``internal-tokens.json``, mode 0600); with ``SUPPORTBOT_ENVIRONMENT=production``
    each must be set, strong (32+ characters) and not a published default, or nothing starts.
    """

    environment: str = field(
        default="embedded",
        metadata=meta(
            "`embedded` (one machine, tokens generated) or `production` (tokens required)",
            "SUPPORTBOT_ENVIRONMENT",
        ),
    )
    actions_token: str | None = field(
        default=None,
        metadata=meta("shared secret Rasa sends to the action server", "ACTIONS_TOKEN", secret=True),
    )
    actions_host: str = field(
        default="127.0.0.1", metadata=meta("address the action server binds", "ACTIONS_HOST")
    )
    rasa_host: str = field(
        default="127.0.0.1", metadata=meta("address Rasa (or each replica) binds", "RASA_HOST")
    )
    metrics_token: str | None = field(
        default=None,
        metadata=meta(
            "bearer token of the worker's /metrics and detailed /health", "METRICS_TOKEN", secret=True
        ),
    )
    rest_token: str | None = field(
        default=None,
        metadata=meta(
            "bearer token a trusted integration sends to the REST channel", "REST_CHANNEL_TOKEN", secret=True
        ),
    )
    webchat_secret: str | None = field(
        default=None,
        metadata=meta(
            "key that signs the web chat's server-issued session ids", "WEBCHAT_SECRET", secret=True
        ),
    )
    max_body_bytes: int = field(
        default=65536,
        metadata=meta("largest request body any server accepts (413 above it)", "SUPPORTBOT_MAX_BODY_BYTES"),
    )


@dataclass(frozen=True)
class MailSettings:
    """Outgoing email: one-time codes that prove who a customer is, and notices of new links.

    Why a real mail server: the only proof that a new chat belongs to an account is a code
    sent to that account's address. Without ``SMTP_HOST`` and ``SMTP_FROM`` the bot does not
    offer to link a new chat to an account at all (it says so and offers a person).
    """

    smtp_host: str | None = field(
        default=None,
        metadata=meta("mail server for one-time codes (unset: no identity linking)", "SMTP_HOST"),
    )
    smtp_port: int = field(default=587, metadata=meta("mail server port", "SMTP_PORT", kind="port"))
    smtp_user: str | None = field(default=None, metadata=meta("mail server login user", "SMTP_USER"))
    smtp_password: str | None = field(
        default=None, metadata=meta("mail server login password", "SMTP_PASSWORD", secret=True)
    )
    smtp_from: str | None = field(
        default=None,
        metadata=meta("sender address of the bot's mails, e.g. `support@example.com`", "SMTP_FROM"),
    )
    smtp_starttls: bool = field(
        default=True,
        metadata=meta("upgrade the connection with STARTTLS (port 465: TLS from the start)", "SMTP_STARTTLS"),
    )

    @property
    def configured(self) -> bool:
        return bool(self.smtp_host and self.smtp_from)


@dataclass(frozen=True)
class DeliverySettings:
    """The outbox (bot/outbox.py): how long one delivery may take and how often it is tried.

    Why bounded: a delivery the other side keeps refusing (an archived Slack channel, a
    conversation Rasa rejects) used to be retried forever and held back everything queued
    behind it for that handoff, the bot's return included. After the attempts below it is
    set aside as a dead letter: the agents are told, ``/health`` counts it.
    """

    max_attempts: int = field(
        default=25,
        metadata=meta(
            "attempts before a delivery becomes a dead letter (25: about 10 minutes of outage)",
            "OUTBOX_MAX_ATTEMPTS",
        ),
    )
    item_timeout: float = field(
        default=30.0,
        metadata=meta("seconds one delivery attempt may take before it fails", "OUTBOX_ITEM_TIMEOUT"),
    )


@dataclass(frozen=True)
class Settings:
    paths: PathSettings
    database: DatabaseSettings
    rasa: RasaSettings
    worker: WorkerSettings
    inbox: InboxSettings
    production: ProductionSettings
    security: SecuritySettings
    mail: MailSettings
    delivery: DeliverySettings

    @property
    def project_root(self) -> Path:
        return self.paths.project_root

    @property
    def data_dir(self) -> Path:
        return self.paths.data_dir or self.paths.project_root / ".data"

    @property
    def cache_dir(self) -> Path:
        home = self.paths.xdg_cache_home or Path.home() / ".cache"
        return self.paths.cache_dir or home / "hearthlink-supportbot"

    @property
    def business_file(self) -> Path:
        return self.paths.business_file or self.paths.project_root / "business.yml"

    @property
    def saved_replies_file(self) -> Path:
        return self.paths.saved_replies_file or self.paths.project_root / "saved_replies.yml"

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'customers.db'}"


SECTIONS: tuple[type, ...] = (
    PathSettings,
    DatabaseSettings,
    RasaSettings,
    WorkerSettings,
    InboxSettings,
    ProductionSettings,
    SecuritySettings,
    MailSettings,
    DeliverySettings,
)
