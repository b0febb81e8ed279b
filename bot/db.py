"""The one database every feature shares: engines, sessions, the declarative ``Base``.

Customers, handoffs, the outbox, the X channel, metrics and the stream cursors all live in
one database (SQLite under ``.data/`` by default, PostgreSQL in production), so a state
change and the deliveries it causes commit in one transaction. This module owns only the
plumbing; each feature declares its own tables on :data:`Base` next to its repository
code, and the schema is created and changed only by the Alembic migrations in
``bot/migrations`` (``python -m bot db upgrade``), never by ``create_all``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import Any, ParamSpec, Protocol, TypeVar

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, declarative_base, sessionmaker

P = ParamSpec("P")
T = TypeVar("T")

# Constraint names spelled the way PostgreSQL names them itself, so databases created
# before the migrations existed (by ``create_all``) carry the same names as new ones, and
# a later migration can drop or alter a constraint by one name on both dialects.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "%(table_name)s_%(column_0_name)s_key",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "pk": "%(table_name)s_pkey",
    "ck": "%(table_name)s_%(constraint_name)s_check",
}

Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))

# Rasa, the action server, the relay and the metrics service may write one SQLite file at
# once; a writer waits this long for another's lock instead of failing.
SQLITE_BUSY_TIMEOUT_SECONDS = 15


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def where(url: str) -> str:
    """The database's location without credentials, for log lines and error messages."""
    return url.rsplit("@", 1)[-1]


def engine_options(url: str) -> dict[str, Any]:
    """``create_engine`` options for several processes sharing one database."""
    if is_sqlite(url):
        # Threads: async callers run store calls in worker threads (run_sync).
        return {"connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS}}
    # A pooled connection the server dropped (restart, idle timeout) is replaced, not used.
    return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 5}}


def new_engine(url: str, **extra: Any) -> Engine:
    """A fresh engine (callers that need their own pool, e.g. the migrations).

    A SQLite file gets a real pool: SQLAlchemy 1.4's default for one, ``NullPool``, opens a
    connection (and sets its pragmas) per transaction, which was a quarter of the worker's
    CPU per message in a profile (bench/README.md). Roomy: a writer holds its connection
    while it waits for SQLite's lock, and a caller waiting for a free connection must not
    stall the desk's 50 parallel deliveries (tests/test_slack_burst.py).
    """
    if is_sqlite(url) and ":memory:" not in url and url.rstrip("/") != "sqlite:" and "poolclass" not in extra:
        extra = {**sqlite_file_pool(), **extra}
    engine = create_engine(url, future=True, **{**engine_options(url), **extra})
    if is_sqlite(url):
        event.listen(engine, "connect", _sqlite_for_several_processes)
    return engine


def sqlite_file_pool() -> dict[str, Any]:
    """``create_engine`` options for a pool of connections to one SQLite file (see new_engine)."""
    from sqlalchemy.pool import QueuePool

    return {"poolclass": QueuePool, "pool_size": 10, "max_overflow": 40}


def pooled_sqlite_engine(url: Any) -> Engine:
    """An engine for Rasa's own SQLite files (tracker store, event broker), as ours are set up.

    Why: Rasa opens them with SQLAlchemy 1.4's default for a file, ``NullPool`` (a new
    connection per session) and SQLite's rollback journal (several fsyncs per commit).
    Pooled connections in WAL mode, still fully synced, made a commit of one message's
    events 0.39 ms instead of 1.29 ms of wall time here (bench/README.md).
    """
    sqlite_engine = create_engine(url, **engine_options("sqlite"), **sqlite_file_pool())
    event.listen(sqlite_engine, "connect", _sqlite_for_several_processes)
    return sqlite_engine


@lru_cache(maxsize=8)
def engine(url: str) -> Engine:
    """The process-wide engine for ``url`` (one connection pool per database)."""
    return new_engine(url)


def _sqlite_for_several_processes(connection: Any, _record: Any) -> None:
    """WAL lets the action server write while the relay reads the same SQLite file."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
    cursor.close()


class Sessions(Protocol):
    """Anything that opens a transaction on the shared database (a :class:`Database`)."""

    def session(self) -> AbstractContextManager[Session]: ...


class Database:
    """Sessions on one database URL; cheap to create (the engine is shared per URL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._sessions = sessionmaker(bind=engine(url), future=True, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield session


async def run_sync(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking database call in a worker thread so the event loop keeps serving."""
    return await asyncio.to_thread(func, *args, **kwargs)
