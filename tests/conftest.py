"""Fixtures only: real databases, the trained model, business settings for every test.

Helpers that tests import live in tests/support/ (importing conftest as a module would load
it twice). Services are real servers on loopback; see tests/support/services.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.customers import CustomerStore
from bot.customers.demo import load_demo_data
from bot.db import engine
from bot.migrations import upgrade
from tests.support.bot import write_business_file
from tests.support.services import empty_tables, fresh_postgres_database

if TYPE_CHECKING:
    from bot.processes import BotProcesses
    from tests.fakes.x import FakeX


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database shared by this test session's tests, migrated to the newest schema."""
    with fresh_postgres_database() as url:
        upgrade(url)
        yield url


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A new PostgreSQL database with no tables, dropped after the test."""
    with fresh_postgres_database() as url:
        yield url
        engine(url).dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables at all: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'new.db'}"
    return request.getfixturevalue("empty_postgres_url")


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database at the newest schema, migrated once: each test gets a copy."""
    path = tmp_path_factory.mktemp("schema") / "customers.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs against a real SQLite file and a real PostgreSQL database.

    Both are empty and at the newest schema, made by the migrations as in production:
    the SQLite file is a copy of one migrated once; the PostgreSQL tables are emptied.
    """
    if request.param == "sqlite":
        target = tmp_path / "customers.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_file"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("postgres_url")
    empty_tables(url)
    return url


@pytest.fixture
def store(store_url: str) -> CustomerStore:
    """An empty database with the demo customers loaded."""
    customer_store = CustomerStore(store_url)
    load_demo_data(customer_store)
    return customer_store


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The shipped model (config.yml + nlu_data/), trained once and cached by content hash."""
    from bot.training import ensure_model

    return ensure_model()


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


@pytest.fixture(scope="module")
def guarded_slack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The whole bot, its Slack desk limited to an agent group, outsiders (tests/support/slack_desk.py)."""
    from tests.support.slack_desk import guarded_slack_bot

    with guarded_slack_bot(trained_model, tmp_path_factory.mktemp("guarded-slack")) as rig:
        yield rig


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A real SMTP server on 127.0.0.1 (tests/fakes/smtp.py) that this process's bot code mails to."""
    from tests.fakes.smtp import smtp_server

    with smtp_server() as box:
        for name, value in box.env.items():
            monkeypatch.setenv(name, value)
        yield box


@pytest.fixture(scope="module")
def identity_rig(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The whole bot mailing through a local SMTP server, for identity attacks (tests/support/identity.py)."""
    from tests.support.identity import identity_bot

    with identity_bot(trained_model, tmp_path_factory.mktemp("identity")) as rig:
        yield rig


@pytest.fixture(scope="session")
def fake_x() -> Iterator[FakeX]:
    """The fake X (tests/fakes/x/) behind the polling-mode bot; Maria's account is known."""
    from tests.fakes.x import FakeX
    from tests.support.x import MARIA

    with FakeX() as fake:
        fake.add_user(MARIA, "maria_lopez", "Maria Lopez")
        yield fake


@pytest.fixture(scope="session")
def x_mailbox() -> Iterator[Any]:
    """The local SMTP server the polling X bot mails one-time codes to (tests/fakes/smtp.py)."""
    from tests.fakes.smtp import smtp_server

    with smtp_server() as box:
        yield box


@pytest.fixture(scope="session")
def x_polling_bot(
    trained_model: Path, fake_x: FakeX, x_mailbox: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcesses]:
    """The whole bot with X in polling mode (the default) against ``fake_x``."""
    from tests.support.x import x_bot

    data = tmp_path_factory.mktemp("x-polling")
    with x_bot(trained_model, fake_x, data, "polling", **x_mailbox.env) as processes:
        yield processes


@pytest.fixture(scope="session")
def x_webhook_bot(
    trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BotProcesses, FakeX]]:
    """The whole bot with X in webhook mode, and its own fake X (nobody polls it)."""
    from tests.fakes.x import FakeX
    from tests.support.x import MARIA, x_bot

    with FakeX() as fake:
        fake.add_user(MARIA, "maria_lopez", "Maria Lopez")
        with x_bot(trained_model, fake, tmp_path_factory.mktemp("x-webhook"), "webhook") as processes:
            yield processes, fake
