"""The local inbox for tests: an agent account, a logged-in client, the worker alone on a free port.

Every inbox test logs in the way the page does (``POST /inbox/api/login``, then the CSRF
token in ``X-CSRF-Token``); nothing here goes around the login.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import requests

from bot.customers import CustomerStore
from bot.db import Sessions
from bot.handoff.desks.inbox.accounts import AccountError, AgentAccounts
from bot.handoff.desks.inbox.guard import CSRF_HEADER
from tests.support import ROOT

AGENT = "Alex"
PASSWORD = "correct horse battery"


def add_agent(db: Sessions, name: str = AGENT, password: str = PASSWORD) -> None:
    AgentAccounts(db).add(name, password)


def login(base: str, name: str = AGENT, password: str = PASSWORD) -> requests.Session:
    """A requests session logged in to the inbox at ``base``, sending the CSRF token on every call."""
    session = requests.Session()
    response = session.post(f"{base}/inbox/api/login", json={"name": name, "password": password}, timeout=30)
    assert response.status_code == 200, response.text
    session.headers[CSRF_HEADER] = response.json()["csrf"]
    return session


_AGENTS: dict[tuple[str, str], requests.Session] = {}


def agent_for(bot: Any) -> requests.Session:
    """The agent Alex logged in to a running bot's inbox (the account is created in its database once).

    For tests whose subject is not the inbox but that work a handoff through it.
    """
    database = bot.env["SUPPORTBOT_DATABASE_URL"]
    key = (bot.relay_url, database)
    cached = _AGENTS.get(key)
    if cached is None or cached.get(f"{bot.relay_url}/inbox/api/session", timeout=10).status_code != 200:
        # New, or the account went with tables another test emptied; or another module made it already.
        with contextlib.suppress(AccountError):
            add_agent(CustomerStore(database))
        _AGENTS[key] = login(bot.relay_url)
    return _AGENTS[key]


async def login_async(session: aiohttp.ClientSession, base: str, name: str = AGENT) -> dict[str, str]:
    """Log ``session`` (its cookie jar must be ``unsafe=True`` for 127.0.0.1) in; the CSRF header."""
    async with session.post(f"{base}/inbox/api/login", json={"name": name, "password": PASSWORD}) as response:
        assert response.status == 200, await response.text()
        return {CSRF_HEADER: (await response.json())["csrf"]}


@contextmanager
def worker_alone(data: Path, env: dict[str, str] | None = None) -> Iterator[Any]:
    """The real worker (``python -m bot worker``: relay, inbox, metrics) on a free port, no Rasa.

    Its database is ``data/customers.db`` (migrated, demo customers loaded); Rasa's URL points
    at a closed port, so only what the worker does itself happens (cards, inbox, thread).
    """
    from bot.customers.demo import load_demo_data
    from bot.migrations import upgrade
    from bot.processes import BotProcesses, free_port, prepare_endpoints
    from bot.settings import child_environment

    url = f"sqlite:///{data / 'customers.db'}"
    upgrade(url)
    load_demo_data(CustomerStore(url))
    port = free_port()
    endpoints = prepare_endpoints(ROOT / "endpoints.yml", "http://127.0.0.1:9", data / "run", data)
    processes = BotProcesses(
        rasa_url="http://127.0.0.1:9",
        actions_url="http://127.0.0.1:9",
        env={**child_environment(), "SUPPORTBOT_DATA_DIR": str(data), "SUPPORTBOT_DATABASE_URL": url,
             **(env or {})},
        log_dir=data / "logs",
    )  # fmt: skip
    processes.relay_url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "bot", "worker", "--port", str(port), "--endpoints", str(endpoints),
            "--credentials", str(ROOT / "credentials.yml"), "--rasa-url", "http://127.0.0.1:9"]  # fmt: skip
    try:
        processes.start("worker", args, f"{processes.relay_url}/health", timeout=120)
        yield processes
    finally:
        processes.stop()
