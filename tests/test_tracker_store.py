"""IncrementalSQLTrackerStore stores what Rasa's SQLTrackerStore stores, reading less.

On a real SQLite file and a real PostgreSQL database: the rows are Rasa's rows, a second
store (another replica) sees and adds to the same conversation, an erased conversation is
never served from memory, a message that failed half-way is not kept, and the broker gets
a message's events in one commit (with a NOTIFY on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
from pathlib import Path

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, event, text

from bot.event_broker import NOTIFY_CHANNEL, BatchedSQLEventBroker
from bot.tracker_store import IncrementalSQLTrackerStore
from tests.support import ROOT
from tests.support.services import fresh_postgres_database

DOMAIN = Domain.load(str(ROOT / "domain.yml"))


def _store(url: str, cls: type = IncrementalSQLTrackerStore, **kwargs: object) -> SQLTrackerStore:
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    if dialect == "sqlite":
        return cls(DOMAIN, dialect="sqlite", db=url.removeprefix("sqlite:///"), **kwargs)
    return cls(DOMAIN, dialect=dialect, host=url, **kwargs)


def _turn(tracker: DialogueStateTracker, text_: str, reply: str) -> None:
    tracker.update(UserUttered(text_, {"name": "greet", "confidence": 0.9}))
    tracker.update(ActionExecuted("utter_greet"))
    tracker.update(BotUttered(reply))
    tracker.update(ActionExecuted("action_listen"))


def _saved_conversation(
    store: SQLTrackerStore, sender: str, text_: str = "hi", reply: str = "Hello!"
) -> DialogueStateTracker:
    """A new conversation of one turn, saved: what most tests start from."""
    tracker = run(store.get_or_create_tracker(sender))
    _turn(tracker, text_, reply)
    run(store.save(tracker))
    return tracker


def _rows(url: str) -> list[tuple]:
    with create_engine(url).connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text("SELECT sender_id, type_name, intent_name, action_name, data FROM events ORDER BY id")
            )
        ]


def _events(tracker: DialogueStateTracker | None) -> list[dict]:
    assert tracker is not None
    return [e.as_dict() for e in tracker.events]


def run(coroutine):
    return asyncio.run(coroutine)


def test_it_writes_the_rows_rasas_store_writes(empty_url: str, tmp_path: Path) -> None:
    ours = _store(empty_url)
    tracker = _saved_conversation(ours, "alice")
    _turn(tracker, "hello again", "Hi again!")
    run(ours.save(tracker))

    rasa_url = f"sqlite:///{tmp_path / 'rasa.db'}"
    rasas = _store(rasa_url, SQLTrackerStore)
    reference = _saved_conversation(rasas, "alice")
    _turn(reference, "hello again", "Hi again!")
    run(rasas.save(reference))

    def without_timestamps(rows: list[tuple]) -> list[tuple]:
        return [(*row[:4], {k: v for k, v in json.loads(row[4]).items() if k != "timestamp"}) for row in rows]

    assert without_timestamps(_rows(empty_url)) == without_timestamps(_rows(rasa_url))
    assert _events(run(_store(empty_url, SQLTrackerStore).retrieve("alice"))) == _events(tracker)


def test_a_cached_tracker_is_served_without_rebuilding_it(empty_url: str) -> None:
    store = _store(empty_url)
    tracker = _saved_conversation(store, "bob")
    assert run(store.retrieve("bob")) is tracker
    fresh = _store(empty_url)  # a restarted process reads the table
    assert _events(run(fresh.retrieve("bob"))) == _events(tracker)


def test_a_second_replica_sees_and_extends_the_same_conversation(empty_url: str) -> None:
    first, second = _store(empty_url), _store(empty_url)
    tracker = _saved_conversation(first, "carol")

    other = run(second.retrieve("carol"))
    _turn(other, "from the other replica", "Answered by replica two")
    run(second.save(other))

    caught_up = run(first.retrieve("carol"))
    assert caught_up is tracker  # brought up to date in place
    assert _events(caught_up) == _events(other)
    _turn(caught_up, "back on the first", "Answered by replica one")
    run(first.save(caught_up))
    assert _events(run(_store(empty_url, SQLTrackerStore).retrieve("carol"))) == _events(caught_up)


def test_an_erased_conversation_is_never_served_from_memory(empty_url: str) -> None:
    store = _store(empty_url)
    tracker = _saved_conversation(store, "dave", "my email is dave@example.com", "Thanks")
    assert run(store.retrieve("dave")) is tracker

    with create_engine(empty_url).begin() as connection:  # what `supportbot erase` does
        connection.execute(text("DELETE FROM events WHERE sender_id = 'dave'"))
    assert run(store.retrieve("dave")) is None

    tracker = _saved_conversation(store, "erin")
    with create_engine(empty_url).begin() as connection:  # retention: only the oldest row goes
        connection.execute(
            text("DELETE FROM events WHERE id = (SELECT min(id) FROM events WHERE sender_id = 'erin')")
        )
    rebuilt = run(store.retrieve("erin"))
    assert rebuilt is not tracker and len(rebuilt.events) == len(tracker.events) - 1


def test_a_message_that_failed_half_way_is_not_kept(empty_url: str) -> None:
    store = _store(empty_url)
    tracker = _saved_conversation(store, "frank")
    tracker.update(UserUttered("this one crashed", {"name": "greet", "confidence": 0.9}))  # never saved

    again = run(store.retrieve("frank"))
    assert again is not tracker
    assert "this one crashed" not in [e.get("text") for e in _events(again)]
    run(store.save(tracker))  # the stale object saved late: Rasa's rule, nothing lost or doubled
    assert [e.get("text") for e in _events(run(_store(empty_url).retrieve("frank")))].count(
        "this one crashed"
    ) == 1


def test_a_new_session_is_read_as_rasa_reads_it(empty_url: str) -> None:
    store = _store(empty_url)
    tracker = _saved_conversation(store, "gina")
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(SlotSet("language", "en"))
    tracker.update(ActionExecuted("action_listen"))
    run(store.save(tracker))
    assert _events(run(store.retrieve("gina"))) == _events(
        run(_store(empty_url, SQLTrackerStore).retrieve("gina"))
    )


def test_the_cache_is_bounded(empty_url: str) -> None:
    store = _store(empty_url, cache_size=2)
    for sender in ("h1", "h2", "h3"):
        _saved_conversation(store, sender)
    assert list(store._cache) == ["h2", "h3"]


def test_the_broker_gets_a_messages_events_in_one_commit(
    empty_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dialect = empty_url.split(":", 1)[0].split("+", 1)[0]
    if dialect == "sqlite":
        broker = BatchedSQLEventBroker(dialect="sqlite", db=str(tmp_path / "broker.db"))
        broker_url = f"sqlite:///{tmp_path / 'broker.db'}"
    else:  # its own database: Rasa's broker and tracker tables are both named `events`
        broker_url = _own_postgres_database(request)
        broker = BatchedSQLEventBroker(dialect="postgresql", host=broker_url)
    commits: list[int] = []
    event.listen(broker.engine, "commit", lambda _connection: commits.append(1))
    listener = _listen(broker_url) if dialect == "postgresql" else None

    store = _store(empty_url, event_broker=broker)
    tracker = run(store.get_or_create_tracker("ivan"))
    before = len(commits)
    _turn(tracker, "hi", "Hello!")
    run(store.save(tracker))

    assert len(commits) - before == 1
    with create_engine(broker_url).connect() as connection:
        published = [
            json.loads(d) for (d,) in connection.execute(text("SELECT data FROM events ORDER BY id"))
        ]
    assert [p["event"] for p in published] == ["action", "user", "action", "bot", "action"]
    assert all(p["sender_id"] == "ivan" for p in published)
    if listener is not None:
        assert select.select([listener], [], [], 5) != ([], [], [])
        listener.poll()
        assert {n.channel for n in listener.notifies} == {NOTIFY_CHANNEL}


def _own_postgres_database(request: pytest.FixtureRequest) -> str:
    """A second fresh PostgreSQL database for this test, beside ``empty_url``'s."""
    stack = contextlib.ExitStack()
    request.addfinalizer(stack.close)
    return stack.enter_context(fresh_postgres_database())


def _listen(url: str):
    import psycopg2

    connection = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    connection.autocommit = True
    connection.cursor().execute(f"LISTEN {NOTIFY_CHANNEL}")
    return connection
