"""The dashboard's door and its JSON, over HTTP: the attacks, the login, the period, the worker's mount.

The dashboard runs on a real loopback server with the real agent accounts (SQLite, migrated);
its report builder is a stand-in returning the hand-made report of
tests/test_experience_report.py (hostile customer text included), so these tests are
about the page and the door, not the figures (tests/test_dashboard_browser.py checks the
figures against the database in a real browser).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar, web
from aiohttp.test_utils import TestServer

from bot.customers import CustomerStore
from bot.experience import dashboard
from bot.experience.dashboard import DASHBOARD, mount_dashboard, requested_period
from bot.experience.periods import Period, PeriodError
from bot.handoff.desks.inbox.accounts import AgentAccounts
from bot.handoff.desks.inbox.guard import CSRF_HEADER, InboxPolicy
from bot.handoff.desks.inbox.routes import add_agent_command
from tests.support.inbox import AGENT, PASSWORD, add_agent
from tests.test_experience_report import MARKUP_ATTACK, SCRIPT_ATTACK, sample_report

TIMEZONE = "Europe/London"
LOGIN = {"name": AGENT, "password": PASSWORD}


@pytest.fixture
def accounts(migrated_sqlite_file: Path, tmp_path: Path) -> AgentAccounts:
    target = tmp_path / "customers.db"
    shutil.copyfile(migrated_sqlite_file, target)
    return AgentAccounts(CustomerStore(f"sqlite:///{target}"))


class Builder:
    """Stands in for load_report: the sample report for the asked period; counts its calls."""

    def __init__(self) -> None:
        self.periods: list[Period] = []

    def __call__(self, period: Period) -> dict[str, Any]:
        self.periods.append(period)
        report = sample_report()
        report["period"].update(start=period.start.isoformat(), end=period.end.isoformat())
        return report


@asynccontextmanager
async def dashboard_client(
    accounts: AgentAccounts, build: Callable[[Period], dict[str, Any]] | None = None, **policy: Any
) -> AsyncIterator[tuple[ClientSession, str, web.Application]]:
    app = web.Application()
    mount_dashboard(app, build or Builder(), TIMEZONE, accounts, InboxPolicy(**policy))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
            yield session, str(server.make_url("")).rstrip("/"), app
    finally:
        await server.close()


async def log_in(session: ClientSession, base: str) -> dict[str, str]:
    async with session.post(f"{base}/dashboard/api/login", json=LOGIN) as response:
        assert response.status == 200, await response.text()
        return {CSRF_HEADER: (await response.json())["csrf"]}


def test_without_a_session_the_dashboard_shows_no_figure(accounts: AgentAccounts) -> None:
    add_agent(accounts.db)

    async def scenario() -> None:
        async with dashboard_client(accounts) as (session, base, _app):
            for path in ("/dashboard/report.json?days=30", "/dashboard/api/session"):
                async with session.get(f"{base}{path}") as response:
                    assert response.status == 401, path
                    assert await response.json() == {"error": "log in first", "login": "/dashboard"}
            async with session.get(f"{base}/dashboard") as response:
                page = await response.text()
            assert response.status == 200 and 'id="login"' in page and "data-figure" not in page
            # A forged or expired cookie is no session either.
            session.cookie_jar.update_cookies({"inbox_session": "forged"})
            async with session.get(f"{base}/dashboard/report.json") as response:
                assert response.status == 401

    asyncio.run(scenario())


def test_the_dashboard_logs_in_with_an_agent_account_and_serves_the_report(accounts: AgentAccounts) -> None:
    add_agent(accounts.db)
    build = Builder()

    async def scenario() -> None:
        async with dashboard_client(accounts, build) as (session, base, _app):
            async with session.post(
                f"{base}/dashboard/api/login", json={**LOGIN, "password": "wrong"}
            ) as response:
                assert response.status == 401 and (await response.json())["setup"] is None
            async with session.post(f"{base}/dashboard/api/login", json=LOGIN) as response:
                assert response.status == 200
                cookie = response.cookies["inbox_session"]
            # The inbox's cookie rules, on the dashboard's path only.
            assert cookie["path"] == "/dashboard" and cookie["httponly"] and cookie["samesite"] == "Strict"
            async with session.get(f"{base}/dashboard/api/session") as response:
                assert (await response.json())["agent"] == AGENT
            async with session.get(f"{base}/dashboard/report.json?days=7") as response:
                assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
                answer = await response.json()
            assert set(answer) == {"report", "page", "digest"} and answer["digest"] is None
            assert answer["report"]["figures"] == sample_report()["figures"]
            assert [c["name"] for c in answer["page"]["charts"]][:2] == [
                "satisfaction_trend",
                "resolution_trend",
            ]
            assert build.periods[-1].days == 7 and build.periods[-1].timezone == TIMEZONE
            async with session.get(f"{base}/dashboard/report.json?from=2026-11-01&to=2026-11-30") as response:
                assert (await response.json())["report"]["period"]["start"] == "2026-11-01"
            assert build.periods[-1] == Period(date(2026, 11, 1), date(2026, 11, 30), TIMEZONE)

    asyncio.run(scenario())


def test_a_report_is_built_once_a_minute_per_period(accounts: AgentAccounts) -> None:
    add_agent(accounts.db)
    build = Builder()

    async def scenario() -> None:
        async with dashboard_client(accounts, build) as (session, base, app):
            await log_in(session, base)
            for _ in range(3):
                async with session.get(f"{base}/dashboard/report.json?days=30") as response:
                    assert response.status == 200
            assert len(build.periods) == 1
            app[DASHBOARD].cache.clear()
            async with session.get(f"{base}/dashboard/report.json?days=30") as response:
                assert response.status == 200
            assert len(build.periods) == 2

    asyncio.run(scenario())


def test_a_wrong_period_is_a_clear_400(accounts: AgentAccounts) -> None:
    add_agent(accounts.db)

    async def scenario() -> None:
        async with dashboard_client(accounts) as (session, base, _app):
            await log_in(session, base)
            for query, message in (
                ("days=lots", "whole number"),
                ("days=0", "at least one day"),
                ("days=400", "at most 366"),
                ("from=2026-11-01", "both from and to"),
                ("from=2026-11-30&to=2026-11-01", "before it starts"),
                ("from=yesterday&to=2026-11-01", "YYYY-MM-DD"),
            ):
                async with session.get(f"{base}/dashboard/report.json?{query}") as response:
                    assert response.status == 400, query
                    assert message in (await response.json())["error"], query

    asyncio.run(scenario())


def test_a_failing_report_is_a_503_that_leaks_nothing(accounts: AgentAccounts) -> None:
    add_agent(accounts.db)

    def broken(_period: Period) -> dict[str, Any]:
        raise RuntimeError("postgresql://support:s3cret@db/support is down")

    async def scenario() -> None:
        async with dashboard_client(accounts, broken) as (session, base, _app):
            await log_in(session, base)
            async with session.get(f"{base}/dashboard/report.json") as response:
                assert response.status == 503
                text = await response.text()
            assert "RuntimeError" in text and "s3cret" not in text

    asyncio.run(scenario())


def test_another_host_name_or_site_is_refused_like_the_inbox(accounts: AgentAccounts) -> None:
    """DNS rebinding (a foreign Host) and cross-site requests are refused before any account is looked at."""
    add_agent(accounts.db)

    async def scenario() -> None:
        async with dashboard_client(accounts, public_hosts=frozenset({"support.example.com"})) as (
            session,
            base,
            _app,
        ):
            csrf = await log_in(session, base)
            rebinding = {"Host": "evil.example"}
            for path in ("/dashboard", "/dashboard/dashboard.js", "/dashboard/plotly.min.js",
                         "/dashboard/report.json", "/dashboard/api/session"):  # fmt: skip
                async with session.get(f"{base}{path}", headers=rebinding) as response:
                    assert response.status == 403, path
            async with session.get(f"{base}/dashboard", headers={"Host": "support.example.com"}) as response:
                assert response.status == 200  # INBOX_PUBLIC_HOST, behind a proxy
            login = f"{base}/dashboard/api/login"
            for headers in (
                {"Origin": "https://evil.example"},
                {"Origin": "null"},
                {"Sec-Fetch-Site": "cross-site"},
                {"Host": "support.example.com.evil.example"},
            ):
                async with session.post(login, json=LOGIN, headers=headers) as response:
                    assert response.status == 403, headers
            # A cross-site form can only send form or text/plain bodies: refused.
            async with session.post(
                login, data="name=Alex&password=x", headers={"Content-Type": "text/plain"}
            ) as r:
                assert r.status == 415
            # Logging out (state-changing) needs the CSRF token.
            async with session.post(f"{base}/dashboard/api/logout", json={}) as response:
                assert response.status == 403
            async with session.post(f"{base}/dashboard/api/logout", json={}, headers=csrf) as response:
                assert response.status == 200
            async with session.get(f"{base}/dashboard/report.json") as response:
                assert response.status == 401  # the session is gone on the server too

    asyncio.run(scenario())


def test_the_page_runs_only_its_own_scripts_and_puts_data_in_text_nodes(accounts: AgentAccounts) -> None:
    async def scenario() -> None:
        async with dashboard_client(accounts) as (session, base, _app):
            async with session.get(f"{base}/dashboard") as response:
                page = await response.text()
                policy = response.headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy and "script-src 'self';" in policy
            assert "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert '<script src="/dashboard/plotly.min.js"></script>' in page
            assert page.count("<script") == 2 and "http://" not in page and "https://" not in page
            assert add_agent_command() in page  # no account yet: the page says how to make one
            async with session.get(f"{base}/dashboard/dashboard.js") as response:
                script = await response.text()
            for sink in (
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
            ):
                assert sink not in script, sink
            assert "createTextNode" in script
            async with session.get(f"{base}/dashboard/plotly.min.js") as response:
                served = await response.read()
            assert response.content_type == "text/javascript"
            assert served == resources.files("plotly").joinpath("package_data/plotly.min.js").read_bytes()

    asyncio.run(scenario())


def test_customer_text_reaches_the_page_only_as_json_strings(accounts: AgentAccounts) -> None:
    add_agent(accounts.db)

    async def scenario() -> None:
        async with dashboard_client(accounts) as (session, base, _app):
            await log_in(session, base)
            async with session.get(f"{base}/dashboard/report.json") as response:
                assert response.content_type == "application/json"
                answer = await response.json()
            comments = [c["comment"] for c in answer["page"]["detractor_comments"]]
            assert comments == [SCRIPT_ATTACK, f"{MARKUP_ATTACK} & more"]  # the text as typed, for text nodes
            keys = [row["key"] for row in answer["page"]["breakdowns"][1]["rows"]]
            assert MARKUP_ATTACK in keys
            intents = answer["page"]["charts"][-1]["figure"]["data"][0]["x"]
            assert '&lt;img src=x onerror="window.pwned=2"&gt;' in intents  # escaped for plotly.js's tags

    asyncio.run(scenario())


def test_the_period_of_a_query() -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert requested_period({}, TIMEZONE, now) == Period(date(2026, 11, 1), date(2026, 11, 30), TIMEZONE)
    assert requested_period({"days": "1"}, TIMEZONE, now).days == 1
    with pytest.raises(PeriodError):
        requested_period({"from": "2025-01-01", "to": "2026-11-30"}, TIMEZONE, now)
    assert dashboard.MAX_DAYS == 366


def test_with_slack_and_the_inbox_off_the_worker_still_serves_the_dashboard(tmp_path: Path) -> None:
    """Slack configured: no /inbox, but /dashboard with its own login on the same agent accounts."""
    from bot.event_stream import EventSource
    from bot.handoff.settings import RelaySettings, SlackSettings
    from bot.migrations import upgrade
    from bot.worker import WorkerSettings, create_app
    from tests.fakes.slack import FakeSlack

    database = f"sqlite:///{tmp_path / 'customers.db'}"
    upgrade(database)
    add_agent(CustomerStore(database))
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {tmp_path / 'tracker.db'}\n", encoding="utf-8"
    )
    events = EventSource("sql", f"sqlite:///{tmp_path / 'broker.db'}")

    async def scenario(slack: FakeSlack) -> None:
        slack_settings = SlackSettings(slack.bot_token, "secret", "C0HANDOFF", api_url=slack.api_url)
        settings = WorkerSettings(
            relay=RelaySettings("http://127.0.0.1:9", None, events, slack=slack_settings, poll_interval=0.05),
            metrics_events=events, x=None, database_url=database, metrics_token="m" * 32,
            endpoints_file=endpoints,
        )  # fmt: skip
        server = TestServer(create_app(settings), host="127.0.0.1")
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        try:
            async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
                async with session.get(f"{base}/inbox") as response:
                    assert response.status == 404  # Slack is the desk: no inbox
                async with session.get(f"{base}/dashboard/report.json") as response:
                    assert response.status == 401
                await log_in(session, base)
                async with session.get(f"{base}/dashboard/report.json?days=7") as response:
                    assert response.status == 200, await response.text()
                    report = (await response.json())["report"]
                assert report["figures"]["conversations"]["value"] == 0  # an empty tracker store, really read
                assert len(report["trend"]) == 7
        finally:
            await server.close()

    with FakeSlack() as slack:
        slack.add_channel("C0HANDOFF", "support-handoffs")
        asyncio.run(scenario(slack))


def test_without_slack_the_latest_weekly_digest_is_on_the_dashboard(accounts: AgentAccounts) -> None:
    """The digest goes to the inbox's posts when there is no Slack; the dashboard is where it is read."""
    from bot.experience.digest_job import INBOX_AUTHOR, latest_inbox_digest
    from bot.handoff.store import HandoffStore

    add_agent(accounts.db)
    url = accounts.db.url
    assert latest_inbox_digest(url) is None
    store = HandoffStore(accounts.db)
    store.desk_post(author=INBOX_AUTHOR, text="old week", key="digest:2026-W47")
    store.desk_post(author=INBOX_AUTHOR, text=f"this week {SCRIPT_ATTACK}", key="digest:2026-W48")
    store.desk_post(author="Alex", text="not a digest")

    async def scenario() -> None:
        app = web.Application()
        mount_dashboard(
            app, Builder(), TIMEZONE, accounts, InboxPolicy(), digest=lambda: latest_inbox_digest(url)
        )
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
                base = str(server.make_url("")).rstrip("/")
                await log_in(session, base)
                async with session.get(f"{base}/dashboard/report.json?days=7") as response:
                    digest = (await response.json())["digest"]
        finally:
            await server.close()
        assert digest["text"] == f"this week {SCRIPT_ATTACK}"  # as data; the page puts it in a text node
        assert digest["at"].endswith("UTC")

    asyncio.run(scenario())
