"""The real servers tests use on loopback: PostgreSQL, RabbitMQ, HAProxy.

When one is missing the test is skipped on a developer machine but fails under CI=true,
so CI never passes by skipping.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from bot.db import engine
from bot.migrations.tables import metadata

POSTGRES_HOST = os.environ.get("SUPPORTBOT_TEST_PG_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("SUPPORTBOT_TEST_PG_PORT", "5432"))
POSTGRES_USER = os.environ.get("SUPPORTBOT_TEST_PG_USER", "postgres")


def require_service(name: str, host: str, port: int) -> None:
    """Skip locally, fail in CI, when a server the test needs is not listening."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        message = f"{name} is not reachable at {host}:{port} ({exc})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI=true requires it")
    pytest.skip(message)


def require_haproxy() -> str:
    """The haproxy binary of the production front; skip locally, fail in CI, when missing.

    ``./scripts/test.sh`` installs it first (scripts/ensure-haproxy.sh).
    """
    from bot.front import FrontSetupError, haproxy_binary

    try:
        return haproxy_binary()
    except FrontSetupError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{exc}; CI=true requires it")
        pytest.skip(str(exc))


def restart_rabbitmq() -> None:
    """Stop and start the RabbitMQ application on this machine (the service kept running)."""
    for step in ("stop_app", "start_app"):
        done = subprocess.run(["rabbitmqctl", step], capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    subprocess.run(["rabbitmqctl", "await_startup"], capture_output=True, timeout=120, check=False)


def delete_rabbitmq_queues(*queues: str) -> None:
    """Drop queues a test or benchmark declared for itself (missing ones are fine)."""
    for queue in queues:
        subprocess.run(["rabbitmqctl", "delete_queue", queue], capture_output=True, timeout=60, check=False)


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (its SQLAlchemy URL), dropped afterwards."""
    require_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    import psycopg2

    name = f"supportbot_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def empty_tables(url: str) -> None:
    """Delete every row of every table of ours (ids start at 1 again); the schema stays."""
    names = ", ".join(f'"{table.name}"' for table in metadata().sorted_tables)
    with engine(url).begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
