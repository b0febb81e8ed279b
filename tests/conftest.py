"""Fixtures only: real databases, the trained model, business settings for every test.

Helpers that tests import live in tests/support/ (importing conftest as a module would load
it twice). Services are real servers on loopback; see tests/support/services.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.customers import CustomerStore
from bot.customers.demo import load_demo_data
from bot.migrations import upgrade
from tests.support.bot import write_business_file
from tests.support.services import empty_tables, fresh_postgres_database


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database shared by this test session's tests, migrated to the newest schema."""
    with fresh_postgres_database() as url:
        upgrade(url)
        yield url


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
