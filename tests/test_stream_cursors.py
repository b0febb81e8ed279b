"""The one stream-cursor table, on real SQLite and PostgreSQL: positions survive, only move forward."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bot.channels.x_store import XStore
from bot.customers import CustomerStore
from bot.db import Database
from bot.stream_cursors import StreamCursors


def test_a_position_survives_a_new_object_and_never_moves_back(store_url: str) -> None:
    cursors = StreamCursors(Database(store_url))
    assert cursors.position("rasa-event-broker") is None
    cursors.advance("rasa-event-broker", 42)
    cursors.advance("rasa-event-broker", 41)  # a slower process saving late
    assert StreamCursors(Database(store_url)).position("rasa-event-broker") == 42
    assert cursors.position("metrics") is None  # each consumer has its own


def test_x_ids_fit_and_keep_the_x_pollers_meaning(store: CustomerStore) -> None:
    x = XStore(store)
    assert x.cursor("dm") is None  # never polled: the first poll skips the account's history
    x.set_cursor("dm", "0")  # polled, nothing there yet
    assert x.cursor("dm") == "0"
    newest_snowflake = str(2**63 - 1)  # X ids are 63-bit
    x.set_cursor("dm", newest_snowflake)
    x.set_cursor("dm", "1582838213461262340")
    assert x.cursor("dm") == newest_snowflake
    assert StreamCursors(store).position("x:dm") == 2**63 - 1
    assert x.cursor("mentions") is None


def test_processes_saving_the_first_position_at_once_all_succeed(store_url: str) -> None:
    """Two X pollers (or a relay restarted twice) insert the same new cursor row together."""
    positions = list(range(1, 17))

    def save(position: int) -> None:
        StreamCursors(Database(store_url)).advance("x:mentions", position)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(save, positions))
    assert StreamCursors(Database(store_url)).position("x:mentions") == max(positions)
