"""Shared fixtures: real databases, the trained model, the running bot.

Services (PostgreSQL) are real servers on loopback. When one is missing the test is
skipped on a developer machine but fails under CI=true, so CI never passes by skipping.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.customers import CustomerStore
from bot.customers.demo import load_demo_data

ROOT = Path(__file__).resolve().parent.parent
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


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database shared by this test session's store tests."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs against a real SQLite file and a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'customers.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url: str) -> Iterator[CustomerStore]:
    """An empty schema with the demo customers loaded."""
    customer_store = CustomerStore(store_url)
    customer_store.drop_schema()
    customer_store.create_schema()
    load_demo_data(customer_store)
    yield customer_store
    customer_store.drop_schema()


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The shipped model (config.yml + nlu_data/), trained once and cached by content hash."""
    from bot.training import ensure_model

    return ensure_model()


def write_business_file(target: Path, **handoff: object) -> Path:
    """A copy of nlu_data/business.yml with some ``handoff`` settings replaced.

    Tests run at any hour, so by default the copy says the team is always there
    (the shipped file has real opening hours); the rest is the shipped configuration.
    """
    import yaml

    document = yaml.safe_load((ROOT / "nlu_data" / "business.yml").read_text(encoding="utf-8"))
    settings = document.setdefault("handoff", {})
    settings["business_hours"] = {
        "timezone": "UTC", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "open": "00:00", "close": "00:00",
    }  # fmt: skip
    settings.update(handoff)
    target.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return target


@pytest.fixture(scope="session", autouse=True)
def team_always_available(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test (and every server a test starts) sees a support team that is always in."""
    path = write_business_file(tmp_path_factory.mktemp("business") / "business.yml")
    previous = os.environ.get("SUPPORTBOT_BUSINESS_FILE")
    os.environ["SUPPORTBOT_BUSINESS_FILE"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("SUPPORTBOT_BUSINESS_FILE", None)
    else:
        os.environ["SUPPORTBOT_BUSINESS_FILE"] = previous


# No Slack settings: handoffs go to the relay's local inbox (also overrides a developer's own).
NO_SLACK = {"SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": "", "SLACK_HANDOFF_CHANNEL": ""}


@contextmanager
def whole_bot(
    model: Path, data: Path, env: dict[str, str] | None = None, relay: bool = True
) -> Iterator[Any]:
    """The real action server, Rasa server and (``relay``) handoff relay, on free ports.

    Demo customers are loaded into ``data/customers.db``; SQLite tracker and broker live in
    ``data`` too; logs in ``data/logs``. Stops everything when the block ends.
    """
    from bot.processes import free_port, start_bot

    load_demo_data(CustomerStore(f"sqlite:///{data / 'customers.db'}"))
    processes = start_bot(
        model,
        endpoints=ROOT / "endpoints.yml",
        rasa_port=free_port(),
        actions_port=free_port(),
        relay_port=free_port() if relay else None,
        data_directory=data,
        log_dir=data / "logs",
        env={"SUPPORTBOT_DATABASE_URL": f"sqlite:///{data / 'customers.db'}", **(env or {})},
    )
    try:
        yield processes
    finally:
        processes.stop()
