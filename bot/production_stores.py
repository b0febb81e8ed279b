"""The stores of the production topology: PostgreSQL, Redis and RabbitMQ settings and checks.

``python -m bot run --production`` (and ``./scripts/run-production.sh``) runs the same
processes as ``docker-compose.yml``: Rasa replicas behind HAProxy (bot/front.py,
deploy/haproxy.cfg), the action server and the worker, on PostgreSQL (conversations +
customers), Redis (lock store, shared web-chat rooms) and RabbitMQ (event broker) that
are already running. Settings come from the same environment variables as in compose;
what is unset gets a local default (loopback, as on a developer machine).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from bot.settings import environment

LOCAL_DEFAULTS: dict[str, str] = {
    "DB_HOST": "127.0.0.1",
    "DB_PORT": "5432",
    "DB_USER": "postgres",
    "DB_PASSWORD": "",
    "DB_NAME": "supportbot",
    "REDIS_HOST": "127.0.0.1",
    "REDIS_PORT": "6379",
    "REDIS_PASSWORD": "",
    "RABBITMQ_HOST": "127.0.0.1",
    "RABBITMQ_PORT": "5672",
    "RABBITMQ_USER": "guest",
    "RABBITMQ_PASSWORD": "guest",
    "RABBITMQ_QUEUE": "handoff_relay",
    "RABBITMQ_METRICS_QUEUE": "metrics",
}


class ProductionSetupError(RuntimeError):
    """A production store is missing or refuses us; the message says which and how to fix it."""


def production_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The production variables: the environment's, else the local defaults."""
    names = [*LOCAL_DEFAULTS, "SUPPORTBOT_DATABASE_URL", "WEBCHAT_REDIS_URL"]
    env = dict(environment(names) if environ is None else environ)
    settings = {name: env.get(name) or default for name, default in LOCAL_DEFAULTS.items()}
    password = f":{quote(settings['DB_PASSWORD'], safe='')}" if settings["DB_PASSWORD"] else ""
    settings["SUPPORTBOT_DATABASE_URL"] = env.get("SUPPORTBOT_DATABASE_URL") or (
        f"postgresql+psycopg2://{quote(settings['DB_USER'], safe='')}{password}"
        f"@{settings['DB_HOST']}:{settings['DB_PORT']}/{settings['DB_NAME']}"
    )
    # web chat replicas share Socket.IO rooms through Redis (bot/channels/webchat.py)
    # Redis hands python-socketio pickles, which it loads: a Redis anyone can write to runs
    # code in the replicas (docs/security.md, "Supply chain"), so production gives it a password.
    redis_auth = f":{quote(settings['REDIS_PASSWORD'], safe='')}@" if settings["REDIS_PASSWORD"] else ""
    settings["WEBCHAT_REDIS_URL"] = (
        env.get("WEBCHAT_REDIS_URL")
        or f"redis://{redis_auth}{settings['REDIS_HOST']}:{settings['REDIS_PORT']}/2"
    )
    return settings


def ensure_database(settings: Mapping[str, str]) -> bool:
    """Create the PostgreSQL database if it does not exist yet; True if it was created."""
    import psycopg2

    try:
        admin = psycopg2.connect(
            host=settings["DB_HOST"], port=settings["DB_PORT"], user=settings["DB_USER"],
            password=settings["DB_PASSWORD"] or None, dbname="postgres", connect_timeout=5,
        )  # fmt: skip
    except psycopg2.OperationalError as exc:
        raise ProductionSetupError(
            f"PostgreSQL at {settings['DB_HOST']}:{settings['DB_PORT']} refused user "
            f"{settings['DB_USER']!r} ({str(exc).strip()}); set DB_HOST, DB_PORT, DB_USER, DB_PASSWORD"
        ) from exc
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (settings["DB_NAME"],))
            if cursor.fetchone():
                return False
            cursor.execute(f'CREATE DATABASE "{settings["DB_NAME"]}"')
            return True
    finally:
        admin.close()


def check_services(settings: Mapping[str, str]) -> None:
    """Fail early, with the variable to set, when Redis or RabbitMQ cannot be reached."""
    import socket

    for name, host_var, port_var in (
        ("Redis", "REDIS_HOST", "REDIS_PORT"),
        ("RabbitMQ", "RABBITMQ_HOST", "RABBITMQ_PORT"),
    ):
        host, port = settings[host_var], int(settings[port_var])
        try:
            socket.create_connection((host, port), timeout=3).close()
        except OSError as exc:
            raise ProductionSetupError(
                f"{name} is not reachable at {host}:{port} ({exc}); start it or set {host_var}/{port_var}"
            ) from exc
