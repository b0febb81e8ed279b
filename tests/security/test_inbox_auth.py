"""Attacks on the agent inbox, against the real worker (``python -m bot worker``) on loopback.

What a stranger who reaches the worker's port (a tunnel, the LAN, a malicious page in the
agent's browser) tries: read handoffs and reply, claim or resolve without an account; guess
a password; post from another site without the CSRF token, from a foreign Origin, through a
DNS-rebound host name, as a text/plain "simple" request; sign a reply with another agent's
name. Each must fail, and the handoffs, the thread, the outbox and the sessions must be
exactly as they were. With Slack configured the inbox is not served at all.

Run under the heavy lock: each module starts worker processes.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import text

from bot.customers import CustomerStore
from bot.db import engine
from bot.handoff.desks.inbox.accounts import MAX_FAILURES
from bot.handoff.desks.inbox.guard import CSRF_HEADER, SESSION_COOKIE
from bot.handoff.store import HandoffStore
from bot.processes import BotProcesses
from tests.fakes.slack import FakeSlack
from tests.support.bot import NO_SLACK
from tests.support.inbox import AGENT, PASSWORD, add_agent, login, worker_alone
from tests.support.waiting import wait_for

VICTIM = "Sam"  # the account the brute force aims at (Alex keeps working)
VERBS = ("reply", "claim", "resolve")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inbox-auth")


@pytest.fixture(scope="module")
def worker(data: Path) -> Iterator[BotProcesses]:
    """The worker without Slack (the embedded default: the inbox is served) and one waiting handoff."""
    with worker_alone(data, NO_SLACK) as processes:
        store = CustomerStore(f"sqlite:///{data / 'customers.db'}")
        add_agent(store, AGENT)
        add_agent(store, VICTIM, "sams own passphrase")
        HandoffStore(store).open_handoff(
            conversation_id="maria", channel="rest", customer_id=1, reason="wants a person",
            packet={"conversation_id": "maria", "channel": "rest", "reason": "wants a person",
                    "customer": {"id": 1, "name": "Maria Lopez"}, "transcript": []},
            relay_after=time.time(),
        )  # fmt: skip
        agent = login(processes.relay_url)
        wait_for(lambda: card_posted(agent, processes.relay_url))  # the worker has posted the card
        yield processes


@pytest.fixture
def agent(worker: BotProcesses) -> requests.Session:
    return login(worker.relay_url)


def card_posted(agent: requests.Session, base: str) -> bool:
    """The worker has delivered the handoff's card (its thread has the first notice)."""
    handoffs = agent.get(f"{base}/inbox/api/handoffs", timeout=10).json()["handoffs"]
    return bool(handoffs and handoffs[0]["thread"])


def snapshot(data: Path) -> dict[str, Any]:
    """Everything an inbox request could change: handoffs, the thread, deliveries, sessions."""
    queries = {
        "handoffs": "SELECT id, status, claimed_by_name, resolved_by_name FROM handoffs ORDER BY id",
        "thread": "SELECT author, text FROM desk_messages ORDER BY id",
        "outbox": "SELECT queue, kind, payload FROM outbox ORDER BY id",
        "sessions": "SELECT token_hash, agent_id FROM inbox_sessions ORDER BY token_hash",
    }
    with engine(f"sqlite:///{data / 'customers.db'}").connect() as connection:
        return {name: [tuple(row) for row in connection.execute(text(sql))] for name, sql in queries.items()}


def handoff_id(worker: BotProcesses, agent: requests.Session) -> int:
    return agent.get(f"{worker.relay_url}/inbox/api/handoffs", timeout=10).json()["handoffs"][0]["id"]


def test_without_a_login_nothing_is_shown_and_nothing_changes(worker: BotProcesses, data: Path) -> None:
    before = snapshot(data)
    stranger = requests.Session()
    forged = {SESSION_COOKIE: secrets.token_urlsafe(32)}
    for cookies in ({}, forged):
        listed = stranger.get(f"{worker.relay_url}/inbox/api/handoffs", cookies=cookies, timeout=10)
        assert listed.status_code == 401 and "Maria" not in listed.text
        assert (
            stranger.get(f"{worker.relay_url}/inbox/api/session", cookies=cookies, timeout=10).status_code
            == 401
        )
        for verb in VERBS:
            response = stranger.post(
                f"{worker.relay_url}/inbox/api/handoffs/1/{verb}",
                json={"agent": "Mallory", "text": "send me your password"}, cookies=cookies, timeout=10,
            )  # fmt: skip
            assert response.status_code == 401, (verb, response.text)
    assert snapshot(data) == before


def test_a_wrong_password_gets_no_session(worker: BotProcesses, data: Path) -> None:
    before = snapshot(data)
    for name, password in ((AGENT, "not the password"), (AGENT, ""), ("Nobody", PASSWORD)):
        response = requests.post(
            f"{worker.relay_url}/inbox/api/login", json={"name": name, "password": password}, timeout=10
        )
        assert response.status_code == 401 and response.json()["error"] == "wrong name or password"
        assert SESSION_COOKIE not in response.cookies and "csrf" not in response.json()
    assert snapshot(data)["sessions"] == before["sessions"]


def test_guessing_a_password_hits_the_rate_limit(worker: BotProcesses, data: Path) -> None:
    url = f"{worker.relay_url}/inbox/api/login"
    for guess in range(MAX_FAILURES):
        assert (
            requests.post(url, json={"name": VICTIM, "password": f"guess {guess}"}, timeout=10).status_code
            == 401
        )
    sessions = snapshot(data)["sessions"]
    assert requests.post(url, json={"name": VICTIM, "password": "guess again"}, timeout=10).status_code == 429
    # Locked means locked: even the right password opens nothing until the window has passed.
    locked = requests.post(url, json={"name": VICTIM, "password": "sams own passphrase"}, timeout=10)
    assert locked.status_code == 429 and SESSION_COOKIE not in locked.cookies
    assert snapshot(data)["sessions"] == sessions
    # A name that does not exist is limited the same way (the limit does not tell names apart).
    for guess in range(MAX_FAILURES):
        requests.post(url, json={"name": "Nobody2", "password": f"guess {guess}"}, timeout=10)
    assert requests.post(url, json={"name": "Nobody2", "password": "x"}, timeout=10).status_code == 429
    login(worker.relay_url)  # another account is not locked out by the attack


def test_a_missing_or_forged_csrf_token_is_refused(
    worker: BotProcesses, agent: requests.Session, data: Path
) -> None:
    other_session_token = login(worker.relay_url).headers[CSRF_HEADER]
    before = snapshot(data)
    for token in (None, "", "0" * 64, other_session_token):
        headers = {CSRF_HEADER: token} if token is not None else {}
        session_headers = {k: v for k, v in agent.headers.items() if k != CSRF_HEADER}
        for verb in VERBS:
            response = requests.post(
                f"{worker.relay_url}/inbox/api/handoffs/1/{verb}", json={"text": "hello"},
                cookies=agent.cookies, headers={**session_headers, **headers}, timeout=10,
            )  # fmt: skip
            assert response.status_code == 403 and CSRF_HEADER in response.json()["error"], (token, verb)
    assert snapshot(data) == before


def test_foreign_origins_and_rebound_host_names_are_refused(
    worker: BotProcesses, agent: requests.Session, data: Path
) -> None:
    before = snapshot(data)
    url = f"{worker.relay_url}/inbox/api/handoffs/1/claim"
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Host": "evil.example"},  # DNS rebinding: evil.example now resolves to 127.0.0.1
        {"Host": "evil.example", "Origin": "http://evil.example"},
    ):
        response = agent.post(url, json={}, headers=headers, timeout=10)
        assert response.status_code == 403, (headers, response.text)
        assert CSRF_HEADER not in response.json()["error"]  # refused for where it came from
    # Logging in is guarded the same way (a foreign page must not log the agent in as someone else).
    credentials = {"name": AGENT, "password": PASSWORD}
    login_url = f"{worker.relay_url}/inbox/api/login"
    foreign = requests.post(
        login_url, json=credentials, headers={"Origin": "https://evil.example"}, timeout=10
    )
    assert foreign.status_code == 403 and SESSION_COOKIE not in foreign.cookies
    assert snapshot(data) == before
    own = requests.post(login_url, json=credentials, headers={"Origin": worker.relay_url}, timeout=10)
    assert own.status_code == 200  # the page's own origin is welcome
    before = snapshot(data)
    for path in ("/inbox", "/inbox/inbox.js", "/inbox/api/handoffs", "/inbox/api/session"):
        rebound = agent.get(f"{worker.relay_url}{path}", headers={"Host": "evil.example:5006"}, timeout=10)
        assert rebound.status_code == 403 and "Maria" not in rebound.text and "csrf" not in rebound.text
    assert snapshot(data) == before


def test_a_state_change_must_be_json(worker: BotProcesses, agent: requests.Session, data: Path) -> None:
    """What a cross-site form can send without a preflight: text/plain and form bodies."""
    before = snapshot(data)
    body = json.dumps({"text": "hi"})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        for verb in VERBS:
            response = agent.post(
                f"{worker.relay_url}/inbox/api/handoffs/1/{verb}", data=body,
                headers={"Content-Type": content_type}, timeout=10,
            )  # fmt: skip
            assert response.status_code == 415, (content_type, verb)
    login_form = requests.post(
        f"{worker.relay_url}/inbox/api/login", data=json.dumps({"name": AGENT, "password": PASSWORD}),
        headers={"Content-Type": "text/plain"}, timeout=10,
    )  # fmt: skip
    assert login_form.status_code == 415 and SESSION_COOKIE not in login_form.cookies
    assert snapshot(data) == before


def test_the_cookie_is_http_only_and_same_site_strict(worker: BotProcesses) -> None:
    response = requests.post(
        f"{worker.relay_url}/inbox/api/login", json={"name": AGENT, "password": PASSWORD}, timeout=10
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/inbox" in cookie
    assert "Secure" not in cookie  # plain http on loopback; behind https it is Secure:
    behind_https = requests.post(
        f"{worker.relay_url}/inbox/api/login", json={"name": AGENT, "password": PASSWORD},
        headers={"X-Forwarded-Proto": "https"}, timeout=10,
    )  # fmt: skip
    assert "Secure" in behind_https.headers["Set-Cookie"]


def test_replies_and_claims_are_signed_by_the_account_not_the_body(
    worker: BotProcesses, agent: requests.Session
) -> None:
    handoff = handoff_id(worker, agent)
    base = f"{worker.relay_url}/inbox/api/handoffs/{handoff}"
    assert agent.post(f"{base}/claim", json={"agent": "Mallory"}, timeout=10).json()["status"] == "claimed"
    reply = agent.post(f"{base}/reply", json={"agent": "Mallory", "text": "Hi, Alex here."}, timeout=10)
    assert reply.status_code == 200, reply.text
    shown = agent.get(f"{worker.relay_url}/inbox/api/handoffs", timeout=10).json()["handoffs"][0]
    assert shown["claimed_by"] == AGENT
    assert [m["author"] for m in shown["thread"] if m["text"] == "Hi, Alex here."] == [AGENT]
    assert "Mallory" not in json.dumps(shown)


def test_logging_out_ends_the_session_on_the_server(worker: BotProcesses, agent: requests.Session) -> None:
    cookie = agent.cookies[SESSION_COOKIE]
    assert agent.post(f"{worker.relay_url}/inbox/api/logout", json={}, timeout=10).status_code == 200
    replayed = requests.get(
        f"{worker.relay_url}/inbox/api/handoffs", cookies={SESSION_COOKIE: cookie}, timeout=10
    )
    assert replayed.status_code == 401


@pytest.mark.parametrize("setting", ["", "false"])
def test_with_slack_configured_the_inbox_is_not_served(tmp_path: Path, setting: str) -> None:
    """Slack is the desk; the inbox would be a second door to the same handoffs, so it is not there."""
    with FakeSlack() as slack:
        env = {
            "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_HANDOFF_CHANNEL": "C0HANDOFF", "SLACK_API_URL": slack.api_url, "INBOX_ENABLED": setting,
        }  # fmt: skip
        with worker_alone(tmp_path, env) as processes:
            add_agent(CustomerStore(f"sqlite:///{tmp_path / 'customers.db'}"))
            base = processes.relay_url
            for path in ("/inbox", "/inbox/inbox.js", "/inbox/api/handoffs", "/inbox/api/session"):
                assert requests.get(f"{base}{path}", timeout=10).status_code == 404, path
            for path in ("/inbox/api/login", "/inbox/api/handoffs/1/claim"):
                response = requests.post(
                    f"{base}{path}", json={"name": AGENT, "password": PASSWORD}, timeout=10
                )
                assert response.status_code == 404, path
