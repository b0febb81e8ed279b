"""The demo month (``python -m bot demo-month``): realistic, deterministic, removable, never in production.

The month is written into real databases (SQLite files, and PostgreSQL with the tracker
store in the same database, as production often has it) and measured twice: by the report
(bot/experience/report.py) and by the independent recomputation in tests/support/recompute.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from bot.business import load_business_settings
from bot.customers import CustomerStore
from bot.customers.demo import load_demo_data
from bot.experience.demo import DemoRefused, generate, remove
from bot.experience.report import load_report
from tests.support import ROOT
from tests.support.rasa_tables import add_tracker_events, create_tracker_table, drop_events_table, user_event
from tests.support.recompute import Hours, headline
from tests.support.services import empty_tables

SHIPPED = ROOT / "business.yml"  # real opening hours: Mon-Sat 08:00-20:00, Europe/London
NOW = datetime(2026, 11, 25, 15, 30, tzinfo=UTC).timestamp()  # a Wednesday afternoon, the team is in


def shipped_hours() -> Hours:
    hours = load_business_settings(SHIPPED).handoff.business_hours
    return Hours(hours.timezone, tuple(sorted(hours.days)), f"{hours.opens:%H:%M}", f"{hours.closes:%H:%M}")


def rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = list(connection.execute(text(sql)))
    engine.dispose()
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(our database, Rasa's tracker store): two SQLite files, or one PostgreSQL database for both."""
    if request.param == "sqlite":
        target = tmp_path / "customers.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_file"), target)
        yield f"sqlite:///{target}", f"sqlite:///{tmp_path / 'tracker.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    empty_tables(url)
    drop_events_table(url)
    yield url, url
    drop_events_table(url)


def make_month(database: str, tracker: str, **options: Any) -> Any:
    options = {"seed": 7, "days": 30, "conversations": 900, "now": NOW, "business_path": SHIPPED, **options}
    return generate(database_url=database, tracker_url=tracker, progress=lambda _line: None, **options)


def test_the_month_looks_like_a_real_support_month(stores: tuple[str, str], tmp_path: Path) -> None:
    database, tracker = stores
    started = time.monotonic()
    summary = make_month(database, tracker)
    assert time.monotonic() - started < 30  # bulk inserts: seconds, not minutes
    assert 800 <= summary.conversations <= 1000

    senders = {str(s) for (s,) in rows(tracker, "SELECT DISTINCT sender_id FROM events")}
    assert senders and all(sender.startswith("demo-") for sender in senders)
    channels = Counter(
        json.loads(data).get("input_channel")
        for (data,) in rows(tracker, "SELECT data FROM events WHERE type_name = 'user'")
    )
    total = sum(n for name, n in channels.items() if name)
    shares = {name: 100 * channels[name] / total for name in ("socketio", "twitter", "rest", "slack")}
    assert 40 <= shares["socketio"] <= 65 and 12 <= shares["twitter"] <= 32, shares
    assert 4 <= shares["rest"] <= 18 and 7 <= shares["slack"] <= 25, shares

    # Shaped by the business's clock: mostly while the team is in, quiet at night and on Sundays.
    london = ZoneInfo("Europe/London")
    starts = [
        datetime.fromtimestamp(float(stamp), london)
        for (stamp,) in rows(tracker, "SELECT timestamp FROM events WHERE type_name = 'session_started'")
    ]
    assert sum(8 <= s.hour < 20 for s in starts) / len(starts) > 0.7
    assert sum(s.weekday() == 6 for s in starts) / len(starts) < 0.1
    assert sum(s.hour < 6 for s in starts) / len(starts) < 0.02

    first, last = date(2026, 10, 27), date(2026, 11, 25)
    figures = headline(
        tracker, database, first, last, now=datetime.fromtimestamp(NOW, UTC), hours=shipped_hours()
    )
    bounds = {
        "involvement": (85, 99), "containment": (68, 90), "verified_resolution": (55, 85),
        "durable_resolution": (48, 82), "reopen_rate": (5, 20), "abandoned_rate": (3, 14),
        "handoff_rate": (12, 32), "fallback_rate": (1.5, 9), "csat": (65, 93), "nps": (5, 65),
        "ces": (4.6, 6.4), "csat_response_rate": (30, 62), "nps_response_rate": (17, 47),
        "ces_response_rate": (24, 55),
    }  # fmt: skip
    for name, (low, high) in bounds.items():
        assert figures[name] is not None and low <= figures[name] <= high, (name, figures[name])
    assert figures["csat_after_person"] is not None and figures["csat_bot_only"] is not None
    assert 30 <= figures["handoff_claim_median"] <= 300  # seconds: within the 5-minute claim timeout
    assert figures["people_resolution_median"] > figures["people_first_reply_median"] > 0
    assert figures["bot_first_response_median"] < 5
    assert figures["waiting_now"] >= 1  # it is 15:30 on a Wednesday: someone is waiting right now

    handoffs = rows(database, "SELECT status, claimed_by_name FROM handoffs")
    statuses = Counter(status for status, _ in handoffs)
    assert statuses["resolved"] > statuses["after_hours"] > 0 and statuses["timed_out"] > 0, statuses
    assert statuses["waiting"] >= 1 and statuses["claimed"] >= 1
    assert len({name for _, name in handoffs if name}) >= 4  # named agents
    reasons = {reason for (reason,) in rows(database, "SELECT reason FROM handoffs")}
    assert "the customer asked for a person" in reasons and len(reasons) >= 6

    # Back on another channel: one customer, two identities, a conversation on each.
    pairs = rows(database, "SELECT customer_id, channel FROM identities WHERE external_id LIKE 'demo-%'")
    by_customer: dict[int, set[str]] = {}
    for customer, channel in pairs:
        by_customer.setdefault(int(customer), set()).add(str(channel))
    assert sum(len(found) > 1 for found in by_customer.values()) >= 10

    comments = rows(database, "SELECT kind, score, comment FROM survey_requests WHERE comment IS NOT NULL")
    unhappy = [
        c for c in comments if (c[0], c[1]) in {("nps", n) for n in range(7)} | {("csat", 1), ("csat", 2)}
    ]
    assert len(unhappy) >= 5
    statuses = Counter(s for (s,) in rows(database, "SELECT status FROM survey_requests"))
    assert all(statuses[s] > 0 for s in ("answered", "declined", "ignored")), statuses

    # The report reads the month as it reads real conversations, and agrees with the recomputation.
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(_endpoints(tracker), encoding="utf-8")
    report = load_report(
        f"{first}..{last}", endpoints_file=endpoints, database_url=database, data_dir=tmp_path,
        now=datetime.fromtimestamp(NOW, UTC), business_path=SHIPPED,
    )  # fmt: skip
    for name, value in figures.items():
        assert report["figures"][name]["value"] == value, name
    assert report["top_unrecognised"] and report["detractor_comments"] and report["handoff_reasons"]


def _endpoints(tracker_url: str) -> str:
    if tracker_url.startswith("sqlite:///"):
        return f'tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: "{tracker_url.removeprefix("sqlite:///")}"\n'
    rest = tracker_url.split("://", 1)[1]
    user, location = rest.split("@", 1)
    host_port, db = location.split("/", 1)
    host, port = host_port.split(":")
    return (
        f"tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: {host}\n  port: {port}\n"
        f"  username: {user}\n  db: {db}\n"
    )


def _snapshot(database: str, tracker: str) -> tuple[list[Any], list[Any], list[Any]]:
    events = rows(
        tracker,
        "SELECT sender_id, type_name, timestamp, intent_name, action_name, data FROM events ORDER BY id",
    )
    surveys = rows(
        database,
        "SELECT conversation_key, kind, status, score, comment, asked_at FROM survey_requests "
        "ORDER BY conversation_key",
    )
    handoffs = rows(
        database,
        "SELECT conversation_id, reason, status, created_at, claimed_by_name FROM handoffs "
        "ORDER BY created_at",
    )
    return events, surveys, [tuple(h) for h in handoffs]


def test_the_same_seed_gives_the_same_month(migrated_sqlite_file: Path, tmp_path: Path) -> None:
    made = []
    for name in ("a", "b", "c"):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copyfile(migrated_sqlite_file, folder / "customers.db")
        database, tracker = f"sqlite:///{folder / 'customers.db'}", f"sqlite:///{folder / 'tracker.db'}"
        make_month(database, tracker, conversations=200, days=10, seed=3 if name != "c" else 4)
        made.append(_snapshot(database, tracker))
    assert made[0] == made[1]
    assert made[0][0] != made[2][0]


def test_remove_takes_the_demo_data_and_nothing_else(migrated_sqlite_file: Path, tmp_path: Path) -> None:
    shutil.copyfile(migrated_sqlite_file, tmp_path / "customers.db")
    database, tracker = f"sqlite:///{tmp_path / 'customers.db'}", f"sqlite:///{tmp_path / 'tracker.db'}"
    load_demo_data(CustomerStore(database))  # the real demo customers (maria, james, priya) stay
    create_tracker_table(tracker)
    add_tracker_events(tracker, "maria", [user_event("where is my order", NOW - 3600)])
    add_tracker_events(tracker, "demonstrator", [user_event("hi", NOW - 3000)])  # not "demo-"
    engine = create_engine(database)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO handoffs (conversation_id, channel, reason, status, packet, relay_after, "
            "created_at) VALUES ('maria', 'rest', 'the customer asked for a person', 'resolved', '{}', 0, "
            "'2026-11-20 10:00:00')"
        ))  # fmt: skip
    engine.dispose()
    before = {
        "customers": rows(database, "SELECT COUNT(*) FROM customers")[0][0],
        "identities": rows(database, "SELECT COUNT(*) FROM identities")[0][0],
    }

    first = make_month(database, tracker, conversations=150, days=7)
    again = make_month(database, tracker, conversations=150, days=7)  # replaces, never doubles
    assert again.events == first.events
    assert rows(tracker, "SELECT COUNT(*) FROM events WHERE sender_id LIKE 'demo-%'")[0][0] == first.events

    removed = remove(database_url=database, tracker_url=tracker)
    assert removed["events"] == first.events and removed["handoffs"] == first.handoffs
    assert removed["survey_requests"] == first.surveys and removed["customers"] == first.customers
    assert sorted(s for (s,) in rows(tracker, "SELECT sender_id FROM events")) == ["demonstrator", "maria"]
    assert [h for (h,) in rows(database, "SELECT conversation_id FROM handoffs")] == ["maria"]
    assert rows(database, "SELECT COUNT(*) FROM survey_requests")[0][0] == 0
    assert rows(database, "SELECT COUNT(*) FROM customers")[0][0] == before["customers"]
    assert rows(database, "SELECT COUNT(*) FROM identities")[0][0] == before["identities"]
    assert remove(database_url=database, tracker_url=tracker)["events"] == 0  # nothing left to remove


def test_refused_in_production(migrated_sqlite_file: Path, tmp_path: Path) -> None:
    shutil.copyfile(migrated_sqlite_file, tmp_path / "customers.db")
    database, tracker = f"sqlite:///{tmp_path / 'customers.db'}", f"sqlite:///{tmp_path / 'tracker.db'}"
    with pytest.raises(DemoRefused, match="SUPPORTBOT_ENVIRONMENT=production"):
        make_month(database, tracker, environment="production")
    assert not (tmp_path / "tracker.db").exists()

    env = {**os.environ, "SUPPORTBOT_ENVIRONMENT": "production", "SUPPORTBOT_DATABASE_URL": database,
           "SUPPORTBOT_DATA_DIR": str(tmp_path)}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "bot", "demo-month"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "SUPPORTBOT_ENVIRONMENT=production" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "tracker.db").exists()
    assert rows(database, "SELECT COUNT(*) FROM customers")[0][0] == 0


def test_the_command_fills_a_month_in_seconds_and_removes_it(
    migrated_sqlite_file: Path, tmp_path: Path
) -> None:
    shutil.copyfile(migrated_sqlite_file, tmp_path / "customers.db")
    database = f"sqlite:///{tmp_path / 'customers.db'}"
    env = {**os.environ, "SUPPORTBOT_DATABASE_URL": database, "SUPPORTBOT_DATA_DIR": str(tmp_path)}
    env.pop("SUPPORTBOT_ENVIRONMENT", None)

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "demo-month", *extra], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=180, check=False)  # fmt: skip

    started = time.monotonic()
    made = run("--seed", "11")
    assert made.returncode == 0, made.stderr
    assert time.monotonic() - started < 60
    assert "tracker events" in made.stdout and "demo conversations" in made.stdout  # progress, then the total
    tracker = f"sqlite:///{tmp_path / 'tracker.db'}"  # endpoints.yml's .data/tracker.db, in the data dir
    count = rows(tracker, "SELECT COUNT(DISTINCT sender_id) FROM events")[0][0]
    assert count > 800
    removed = run("--remove")
    assert removed.returncode == 0 and "removed the demo data" in removed.stdout, removed.stderr
    assert rows(tracker, "SELECT COUNT(*) FROM events")[0][0] == 0


def test_rasa_reads_the_demo_conversations_back(migrated_sqlite_file: Path, tmp_path: Path) -> None:
    """Rasa's own SQL tracker store loads every demo tracker and replays it through the domain."""
    import asyncio
    import warnings

    from rasa.shared.core.domain import Domain

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from rasa.core.tracker_store import SQLTrackerStore

    shutil.copyfile(migrated_sqlite_file, tmp_path / "customers.db")
    database, tracker = f"sqlite:///{tmp_path / 'customers.db'}", f"sqlite:///{tmp_path / 'tracker.db'}"
    make_month(database, tracker, conversations=150, days=5)
    store = SQLTrackerStore(
        Domain.load(str(ROOT / "domain.yml")), dialect="sqlite", db=str(tmp_path / "tracker.db")
    )
    waiting = {s for (s,) in rows(database, "SELECT conversation_id FROM handoffs WHERE status = 'waiting'")}
    resolved = {
        s for (s,) in rows(database, "SELECT conversation_id FROM handoffs WHERE status = 'resolved'")
    }
    senders = [s for (s,) in rows(tracker, "SELECT DISTINCT sender_id FROM events")]

    async def replay() -> dict[str, Any]:
        return {sender: await store.retrieve_full_tracker(sender) for sender in senders}

    trackers = asyncio.run(replay())
    stored = rows(tracker, "SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id")
    assert {sender: len(trackers[sender].events) for sender in senders} == {s: n for s, n in stored}
    assert waiting and all(trackers[s].is_paused() for s in waiting)  # paused until a person claims it
    assert resolved and not any(trackers[s].is_paused() for s in resolved - waiting)
    assert all(trackers[s].active_loop_name is None for s in resolved)


def test_demo_returns_ask_why_and_confirm_before_they_start(
    migrated_sqlite_file: Path, tmp_path: Path
) -> None:
    """The demo month shows the return form as the bot runs it, and no placeholder is left unfilled."""
    shutil.copyfile(migrated_sqlite_file, tmp_path / "customers.db")
    database, tracker = f"sqlite:///{tmp_path / 'customers.db'}", f"sqlite:///{tmp_path / 'tracker.db'}"
    make_month(database, tracker, conversations=300, days=10)
    said: dict[str, list[str]] = {}
    for sender, data in rows(
        tracker, "SELECT sender_id, data FROM events WHERE type_name = 'bot' ORDER BY id"
    ):
        event = json.loads(data)
        said.setdefault(sender, []).append(event.get("metadata", {}).get("utter_action") or "")
        assert "{" not in str(event.get("text") or ""), event.get("text")
    returns = [steps for steps in said.values() if "utter_return_started" in steps]
    assert returns
    for steps in returns:
        started = steps.index("utter_return_started")
        asked = steps[:started]
        assert "utter_ask_return_reason" in asked and "utter_ask_return_confirmed" in asked
        assert asked.index("utter_ask_return_reason") < asked.index("utter_ask_return_confirmed")
