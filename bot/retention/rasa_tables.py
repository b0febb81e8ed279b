"""Rasa's own tables, found through the endpoints file Rasa runs with, read and pruned with plain SQL.

Rasa owns their schema, so we touch only what both of its SQL stores have had for years:
the SQL tracker store's ``events`` table (``sender_id``, ``timestamp``, ``data``; the
embedded ``tracker.db``, or PostgreSQL in production, often the same database as ours) and
the SQL event broker's ``events`` table (``id``, ``sender_id``, ``data`` with the event's
JSON, ``broker.db``). A table Rasa has not created yet reads as empty. Other stores are
not ours to prune: RabbitMQ's queues are emptied by their consumers as they read, and an
in-memory tracker store forgets on restart; :attr:`RasaStores.notes` says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from sqlalchemy import bindparam, create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.rasa_store_kinds import is_sql
from bot.settings import expand

BATCH = 500  # ids per IN (...) list: far below SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True)
class RasaStores:
    """SQLAlchemy URLs of Rasa's SQL stores (None: that store is not SQL) and what is not pruned."""

    tracker_url: str | None
    broker_url: str | None
    notes: tuple[str, ...] = ()


def rasa_stores(endpoints: Path, data_directory: Path) -> RasaStores:
    """Rasa's tracker store and event broker as ``endpoints`` configures them.

    A relative SQLite path is resolved the way ``bot.processes.prepare_endpoints`` starts
    Rasa: the file of that name in ``data_directory``.
    """
    config: dict[str, Any] = yaml.safe_load(endpoints.read_text(encoding="utf-8")) or {}
    notes: list[str] = []
    urls: list[str | None] = []
    for section in ("tracker_store", "event_broker"):
        store = config.get(section) or {}
        kind = str(store.get("type", "")).lower()
        if is_sql(section, store):
            urls.append(_sql_url(store, data_directory))
        else:
            urls.append(None)
            what = kind or "in-memory"
            notes.append(f"{section} is {what}, not SQL: not pruned here ({endpoints.name})")
    return RasaStores(urls[0], urls[1], tuple(notes))


def _sql_url(store: dict[str, Any], data_directory: Path) -> str:
    def value(key: str, default: str = "") -> str:
        return str(expand(str(store.get(key, default) or default), strict=False))

    dialect = value("dialect", "sqlite")
    db = value("db", "rasa.db")
    if dialect == "sqlite":
        path = Path(db)
        return f"sqlite:///{path if path.is_absolute() else data_directory / path.name}"
    user, password = quote(value("username"), safe=""), quote(value("password"), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = value("port")
    return f"{dialect}://{auth}{value('url', 'localhost')}{':' + port if port else ''}/{db}"


@lru_cache(maxsize=8)
def rasa_engine(url: str) -> Engine:
    """An engine on Rasa's database; SQLite waits for Rasa's write lock instead of failing.

    No WAL switch here (unlike bot.db): the file's journal mode is Rasa's business.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, future=True, connect_args={"check_same_thread": False, "timeout": 15})
        event.listen(
            engine, "connect", lambda connection, _record: connection.execute("PRAGMA busy_timeout=15000")
        )
        return engine
    return create_engine(url, future=True, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def missing_table(exc: SQLAlchemyError) -> bool:
    message = str(exc)
    return "no such table" in message or "does not exist" in message or "UndefinedTable" in message


def _batches(values: Iterable[str]) -> Iterator[list[str]]:
    items = sorted(set(values))
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


# --------------------------------------------------------------------------- tracker store


def last_event_times(connection: Connection) -> dict[str, float]:
    """sender id -> timestamp of its newest event, for every conversation in the tracker store."""
    try:
        rows = connection.execute(text("SELECT sender_id, MAX(timestamp) FROM events GROUP BY sender_id"))
        return {str(sender): float(newest or 0) for sender, newest in rows}
    except SQLAlchemyError as exc:
        if missing_table(exc):
            return {}
        raise


def events_of(connection: Connection, senders: Iterable[str]) -> list[tuple[int, str, dict[str, Any]]]:
    """(id, sender id, event) of these conversations in an ``events`` table (tracker store or broker)."""
    found: list[tuple[int, str, dict[str, Any]]] = []
    query = text("SELECT id, sender_id, data FROM events WHERE sender_id IN :senders ORDER BY id").bindparams(
        bindparam("senders", expanding=True)
    )
    try:
        for batch in _batches(senders):
            for row_id, sender, data in connection.execute(query, {"senders": batch}):
                found.append((int(row_id), str(sender), decoded_event(data)))
    except SQLAlchemyError as exc:
        if not missing_table(exc):
            raise
    return found


def delete_conversations(connection: Connection, senders: Iterable[str]) -> int:
    """Delete every event of these conversations from an ``events`` table; the number of rows."""
    query = text("DELETE FROM events WHERE sender_id IN :senders").bindparams(
        bindparam("senders", expanding=True)
    )
    removed = 0
    try:
        for batch in _batches(senders):
            removed += connection.execute(query, {"senders": batch}).rowcount or 0
    except SQLAlchemyError as exc:
        if not missing_table(exc):
            raise
    return removed


# --------------------------------------------------------------------------- SQL event broker


def broker_rows(connection: Connection, after: int, limit: int = 1000) -> Sequence[tuple[int, float | None]]:
    """(id, event timestamp) of broker rows after ``after``, in id order (timestamp None: unreadable)."""
    try:
        rows = connection.execute(
            text("SELECT id, data FROM events WHERE id > :after ORDER BY id LIMIT :limit"),
            {"after": after, "limit": limit},
        ).all()
    except SQLAlchemyError as exc:
        if missing_table(exc):
            return []
        raise
    return [(int(row_id), _timestamp(decoded_event(data))) for row_id, data in rows]


def delete_broker_through(connection: Connection, last_id: int) -> int:
    return connection.execute(text("DELETE FROM events WHERE id <= :last"), {"last": last_id}).rowcount or 0


def decoded_event(data: Any) -> dict[str, Any]:
    try:
        loaded = json.loads(data) if isinstance(data, (str, bytes)) else data
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _timestamp(event_data: dict[str, Any]) -> float | None:
    try:
        return float(event_data["timestamp"])
    except (KeyError, TypeError, ValueError):
        return None
