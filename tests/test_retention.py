"""Retention: the business.yml settings, the pure decisions, and pruning backdated rows for real.

Pruning runs on real databases (SQLite and PostgreSQL, ``store_url``) with Rasa's own
``events`` tables (made from Rasa's table classes): the tracker store in the same database
on PostgreSQL (as in production) or in its own SQLite file (the embedded tracker.db), the
SQL event broker in a SQLite file (broker.db).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.x_store import XChoices, XSeenEvent
from bot.customers.models import Conversation, Customer
from bot.db import Database
from bot.handoff.models import DeskMessage, Handoff
from bot.outbox import OutboxItem, utcnow
from bot.retention.audit import RetentionAudit, recent
from bot.retention.policy import (
    RetentionSettings,
    RetentionSettingsError,
    prunable_prefix,
    retention_settings,
    stale_conversations,
)
from bot.retention.prune import Pruner
from bot.retention.rasa_tables import RasaStores, rasa_stores
from bot.stream_cursors import StreamCursor
from tests.support.rasa_tables import (
    add_broker_events,
    add_tracker_events,
    broker_ids,
    create_broker_table,
    create_tracker_table,
    drop_events_table,
    tracker_senders,
    user_event,
)

NOW = datetime(2026, 12, 1, 12, 0, 0)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def stamp(days: float) -> float:
    return (days_ago(days) - datetime(1970, 1, 1)).total_seconds()


# --------------------------------------------------------------------------- settings and decisions


def test_retention_settings_default_and_name_a_wrong_key(tmp_path: Path) -> None:
    path = tmp_path / "business.yml"
    path.write_text("business: {name: X}\n", encoding="utf-8")
    assert retention_settings(path) == RetentionSettings()
    assert RetentionSettings().delivered_outbox_days == 7 and RetentionSettings().conversations_days == 365
    path.write_text("retention:\n  handoffs_days: 0\n  broker_events_days: 3\n", encoding="utf-8")
    loaded = retention_settings(path)
    assert loaded.broker_events_days == 3 and loaded.cutoff("handoffs", NOW) is None  # 0: for ever
    path.write_text("retention:\n  conversation_days: 30\n", encoding="utf-8")
    with pytest.raises(RetentionSettingsError, match=r"retention\.conversation_days is not a setting"):
        retention_settings(path)
    path.write_text("retention:\n  handoffs_days: a year\n", encoding="utf-8")
    with pytest.raises(
        RetentionSettingsError, match=r"retention\.handoffs_days='a year' is not a whole number"
    ):
        retention_settings(path)


def test_the_shipped_business_yml_keeps_the_documented_defaults() -> None:
    shipped = retention_settings(Path(__file__).resolve().parent.parent / "business.yml")
    assert shipped == RetentionSettings()


def test_a_conversation_goes_whole_only_when_its_last_event_is_old() -> None:
    last = {"old": stamp(400), "live": stamp(1), "paused": stamp(500)}
    assert stale_conversations(last, days_ago(365), protected={"paused"}) == ["old"]
    assert stale_conversations(last, None) == []


def test_broker_rows_go_in_order_only_when_old_and_read_by_every_consumer() -> None:
    rows = [(1, stamp(40)), (2, stamp(40)), (3, stamp(35)), (4, stamp(1)), (5, stamp(50))]
    assert prunable_prefix(rows, days_ago(30), read_up_to=None) == 3  # stops at the first young row
    assert prunable_prefix(rows, days_ago(30), read_up_to=2) == 2  # a consumer is at 2
    assert prunable_prefix([(1, None), (2, stamp(40))], days_ago(30), None) is None  # unreadable: stop
    assert prunable_prefix(rows, None, None) is None


def test_stores_are_read_from_the_endpoints_file_rasa_runs_with(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    embedded = rasa_stores(root / "endpoints.yml", tmp_path)
    assert embedded.tracker_url == f"sqlite:///{tmp_path / 'tracker.db'}"
    assert embedded.broker_url == f"sqlite:///{tmp_path / 'broker.db'}"
    production = rasa_stores(root / "endpoints.production.yml", tmp_path)
    assert production.tracker_url is not None and production.tracker_url.startswith("postgresql://")
    assert production.broker_url is None and "event_broker is pika" in production.notes[0]


# --------------------------------------------------------------------------- pruning for real


def _backdated_rows(db: Database) -> dict[str, int]:
    with db.session() as session:
        customer = Customer(name="Ada", email="ada@example.com", devices=[], preferences={}, created_at=NOW)
        session.add(customer)
        session.flush()
        session.add_all([
            OutboxItem(queue="customer:a", kind="k", payload={}, attempts=1, next_attempt_at=days_ago(10),
                       created_at=days_ago(10), delivered_at=days_ago(10)),
            OutboxItem(queue="customer:b", kind="k", payload={}, attempts=1, next_attempt_at=days_ago(1),
                       created_at=days_ago(1), delivered_at=days_ago(1)),
            OutboxItem(queue="customer:c", kind="k", payload={}, attempts=0, next_attempt_at=days_ago(30),
                       created_at=days_ago(30)),  # not delivered yet: kept whatever its age
            XSeenEvent(key="dm:old", seen_at=days_ago(40)),
            XSeenEvent(key="dm:new", seen_at=days_ago(1)),
            Conversation(customer_id=customer.id, channel="rest", started_at=days_ago(400), summary="s",
                         outcome="o"),
            Conversation(customer_id=customer.id, channel="rest", started_at=days_ago(10), summary="s",
                         outcome="o"),
        ])  # fmt: skip
        handoffs = {
            "old": Handoff(conversation_id="old-conv", channel="rest", reason="r", status="resolved",
                           packet={}, relay_after=0, created_at=days_ago(401), resolved_at=days_ago(400),
                           card_ts="1.1", desk_channel="local-inbox"),
            "waiting": Handoff(conversation_id="paused-conv", channel="rest", reason="r", status="waiting",
                               packet={}, relay_after=0, created_at=days_ago(400)),
            "recent": Handoff(conversation_id="live-conv", channel="rest", reason="r", status="resolved",
                              packet={}, relay_after=0, created_at=days_ago(11), resolved_at=days_ago(10)),
        }  # fmt: skip
        session.add_all(handoffs.values())
        session.flush()
        session.add_all([
            DeskMessage(ts="1.1", author="bot", text="card", created_at=days_ago(401)),
            DeskMessage(ts="1.2", thread_ts="1.1", author="Alex", text="reply", created_at=days_ago(401)),
            OutboxItem(queue=f"desk:{handoffs['old'].id}", kind="k", payload={}, attempts=0,
                       next_attempt_at=days_ago(400), created_at=days_ago(400)),
            XChoices(conversation_id="old-conv", options=[]),
            StreamCursor(name="rasa-event-broker", position=5),
            StreamCursor(name="metrics", position=3),
        ])  # fmt: skip
        return {name: row.id for name, row in handoffs.items()}


def _rasa_urls(store_url: str, tmp_path: Path) -> tuple[str, str]:
    """Production keeps the tracker in the same PostgreSQL database; the embedded default in tracker.db."""
    tracker = store_url if store_url.startswith("postgresql") else f"sqlite:///{tmp_path / 'tracker.db'}"
    return tracker, f"sqlite:///{tmp_path / 'broker.db'}"


def test_pruning_removes_what_is_older_than_its_window_and_nothing_else(
    store_url: str, tmp_path: Path
) -> None:
    tracker, broker = _rasa_urls(store_url, tmp_path)
    create_tracker_table(tracker)
    create_broker_table(broker)
    try:
        db = Database(store_url)
        handoffs = _backdated_rows(db)
        add_tracker_events(tracker, "old-conv", [user_event("hi", stamp(401)), user_event("bye", stamp(400))])
        # began long ago, still talking: must not be cut in half
        add_tracker_events(
            tracker, "live-conv", [user_event("hi", stamp(500)), user_event("still", stamp(1))]
        )
        add_tracker_events(tracker, "paused-conv", [user_event("help", stamp(400))])  # open handoff: stays
        for days in (40, 40, 40, 35, 1):
            add_broker_events(broker, "live-conv", [user_event("x", stamp(days))])

        counts = Pruner(store_url, RasaStores(tracker, broker), RetentionSettings()).prune(NOW)

        assert counts == {
            "outbox": 2, "x_seen_events": 1, "conversations": 1, "handoffs": 1, "desk_messages": 2,
            "rasa_tracker_events": 2, "rasa_conversations": 1, "x_choices": 1, "rasa_broker_events": 3,
        }  # fmt: skip
        assert tracker_senders(tracker) == {"live-conv": 2, "paused-conv": 1}
        assert broker_ids(broker) == [4, 5]  # 4 is old, but the metrics consumer has not read it yet
        with db.session() as session:
            assert sorted(session.scalars(select(OutboxItem.queue))) == ["customer:b", "customer:c"]
            assert list(session.scalars(select(XSeenEvent.key))) == ["dm:new"]
            assert set(session.scalars(select(Handoff.id))) == {handoffs["waiting"], handoffs["recent"]}
            assert list(session.scalars(select(DeskMessage.ts))) == []
            assert len(list(session.scalars(select(Conversation.id)))) == 1
            assert session.scalars(select(RetentionAudit.action)).all() == ["prune"]
        line = recent(db)[0]["line"]
        assert "rasa_tracker_events=2" in line and "outbox=2" in line and "old-conv" not in line

        assert (
            Pruner(store_url, RasaStores(tracker, broker), RetentionSettings()).prune(NOW) == {}
        )  # idempotent
    finally:
        if tracker.startswith("postgresql"):
            drop_events_table(tracker)


def test_zero_days_keeps_everything_and_missing_rasa_tables_are_empty(store_url: str, tmp_path: Path) -> None:
    db = Database(store_url)
    _backdated_rows(db)
    forever = RetentionSettings(**{f"{kind}_days": 0 for kind in (
        "broker_events", "delivered_outbox", "x_seen_events", "conversations", "handoffs")})  # fmt: skip
    missing = RasaStores(f"sqlite:///{tmp_path / 'none.db'}", f"sqlite:///{tmp_path / 'none2.db'}")
    assert Pruner(store_url, missing, forever).prune(NOW) == {}
    assert Pruner(store_url, missing, RetentionSettings()).prune(NOW)["outbox"] == 2  # Rasa not started yet


def test_now_is_naive_utc_like_the_rows() -> None:
    assert utcnow().tzinfo is None


def test_the_prune_command_finds_rasa_s_files_in_the_data_directory(
    migrated_sqlite_file: Path, tmp_path: Path
) -> None:
    database = tmp_path / "customers.db"
    shutil.copyfile(migrated_sqlite_file, database)
    tracker = f"sqlite:///{tmp_path / 'tracker.db'}"
    create_tracker_table(tracker)
    create_broker_table(f"sqlite:///{tmp_path / 'broker.db'}")
    add_tracker_events(tracker, "gone-conv", [user_event("hi", stamp(800))])
    add_tracker_events(tracker, "kept-conv", [user_event("hi", time.time())])
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "SUPPORTBOT_DATABASE_URL": f"sqlite:///{database}",
        "SUPPORTBOT_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run([sys.executable, "-m", "bot", "prune", "--endpoints", "endpoints.yml"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "rasa_tracker_events=1" in done.stdout and "rasa_conversations=1" in done.stdout
    assert tracker_senders(tracker) == {"kept-conv": 1}
    assert recent(Database(f"sqlite:///{database}"))[0]["action"] == "prune"


def test_the_worker_prunes_on_start_and_stops_cleanly(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from bot.retention.prune import pruning_context
    from bot.worker import worker_settings

    monkeypatch.setenv("SUPPORTBOT_DATA_DIR", str(tmp_path))
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_HANDOFF_CHANNEL"):
        monkeypatch.setenv(name, "")
    root = Path(__file__).resolve().parent.parent
    settings = worker_settings(endpoints=root / "endpoints.yml", credentials=root / "credentials.yml",
                               rasa_url="http://127.0.0.1:1", relay_queue=None, metrics_queue=None,
                               database_url=store_url)  # fmt: skip
    assert (
        settings.pruning is not None
        and settings.pruning.stores.tracker_url == f"sqlite:///{tmp_path / 'tracker.db'}"
    )
    db = Database(store_url)
    _backdated_rows(db)

    async def start_and_stop() -> None:
        background = pruning_context(settings.pruning)(None)
        await background.__anext__()
        deadline = time.monotonic() + 20
        while not recent(db) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        with pytest.raises(StopAsyncIteration):
            await background.__anext__()

    asyncio.run(start_and_stop())
    assert recent(db)[0]["action"] == "prune" and recent(db)[0]["counts"]["outbox"] >= 1
