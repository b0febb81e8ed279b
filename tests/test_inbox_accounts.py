"""The inbox's agent accounts on real SQLite and PostgreSQL, and the ``agents`` command.

What is stored must not let anyone in: no password, no session token; what ends a login
must end it on the server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.customers import CustomerStore
from bot.handoff.desks.inbox.accounts import (
    MAX_FAILURES,
    AccountError,
    AgentAccounts,
    InboxAgent,
    InboxSession,
    csrf_token,
)
from tests.support import ROOT

PASSWORD = "correct horse battery"
HOUR = timedelta(hours=1)


def test_passwords_and_session_tokens_are_stored_only_as_hashes(store: CustomerStore) -> None:
    accounts = AgentAccounts(store)
    accounts.add("Alex", PASSWORD)
    accounts.add("Sam", PASSWORD)
    result = accounts.login("Alex", PASSWORD, HOUR)
    assert result.agent is not None and result.agent.name == "Alex" and result.token
    with store.session() as session:
        hashes = list(session.scalars(select(InboxAgent.password_hash)))
        stored_sessions = list(session.scalars(select(InboxSession.token_hash)))
    assert all(h.startswith("scrypt$") and PASSWORD not in h for h in hashes)
    assert hashes[0] != hashes[1]  # a salt per agent: the same password, two different hashes
    assert result.token not in stored_sessions and len(stored_sessions) == 1
    assert accounts.session_agent(result.token) == result.agent
    assert csrf_token(result.token) != csrf_token(accounts.login("Alex", PASSWORD, HOUR).token or "")


def test_a_login_ends_with_logout_expiry_a_new_password_or_removal(store: CustomerStore) -> None:
    accounts = AgentAccounts(store)
    accounts.add("Alex", PASSWORD)
    token = accounts.login("Alex", PASSWORD, HOUR).token
    accounts.logout(token or "")
    assert accounts.session_agent(token) is None
    expired = accounts.login("Alex", PASSWORD, timedelta(seconds=-1)).token
    assert accounts.session_agent(expired) is None
    token = accounts.login("Alex", PASSWORD, HOUR).token
    accounts.set_password("Alex", "a brand new passphrase")
    assert accounts.session_agent(token) is None
    assert accounts.login("Alex", PASSWORD, HOUR).agent is None
    token = accounts.login("Alex", "a brand new passphrase", HOUR).token
    accounts.remove("Alex")
    assert accounts.session_agent(token) is None and accounts.names() == []


def test_wrong_guesses_lock_a_name_until_an_admin_sets_a_new_password(store: CustomerStore) -> None:
    accounts = AgentAccounts(store)
    accounts.add("Alex", PASSWORD)
    for _ in range(MAX_FAILURES):
        assert not accounts.login("Alex", "guess", HOUR).limited
    assert accounts.login("Alex", PASSWORD, HOUR).limited  # the right password too, for the window
    accounts.set_password("Alex", "a brand new passphrase")
    assert accounts.login("Alex", "a brand new passphrase", HOUR).agent is not None


def test_parallel_guesses_cannot_count_past_the_lockout(store: CustomerStore) -> None:
    """Many wrong passwords at the same instant (a script) still lock the name after MAX_FAILURES."""
    from concurrent.futures import ThreadPoolExecutor

    from bot.handoff.desks.inbox.accounts import InboxLoginFailure

    accounts = AgentAccounts(store)
    accounts.add("Alex", PASSWORD)
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda n: accounts.login("Alex", f"guess-{n}", HOUR), range(20)))
    assert sum(not r.limited for r in results) == MAX_FAILURES  # the rest were refused unchecked
    with store.session() as session:
        assert len(session.scalars(select(InboxLoginFailure)).all()) == MAX_FAILURES


@pytest.mark.parametrize(
    ("name", "password"), [("", PASSWORD), ("x" * 81, PASSWORD), ("Al\x00ex", PASSWORD), ("Alex", "short")]
)
def test_unusable_names_and_passwords_are_refused(store: CustomerStore, name: str, password: str) -> None:
    with pytest.raises(AccountError):
        AgentAccounts(store).add(name, password)
    assert AgentAccounts(store).names() == []


def test_the_agents_command_adds_lists_and_removes(tmp_path: Path) -> None:
    env = {**os.environ, "SUPPORTBOT_DATA_DIR": str(tmp_path)}
    env.pop("SUPPORTBOT_DATABASE_URL", None)

    def agents(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bot", "agents", *args]
        return subprocess.run(
            command, input=stdin, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
        )

    added = agents("add", "Alex", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0 and "'Alex' can now log in" in added.stdout, added.stderr
    assert PASSWORD not in added.stdout + added.stderr
    twice = agents("add", "Alex", "--password-stdin", stdin=PASSWORD + "\n")
    assert twice.returncode == 1 and "agents password Alex" in twice.stderr
    short = agents("add", "Sam", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    assert agents("list").stdout.split() == ["Alex"]
    accounts = AgentAccounts(CustomerStore(f"sqlite:///{tmp_path / 'customers.db'}"))
    assert accounts.login("Alex", PASSWORD, HOUR).agent is not None
    assert agents("remove", "Alex").returncode == 0
    assert "no agent accounts yet" in agents("list").stdout
