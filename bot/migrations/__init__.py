"""The database schema, versioned: Alembic migrations applied by the start commands.

``upgrade(url)`` brings a database to the newest schema: ``python -m bot db upgrade``,
``python -m bot run`` and ``load-demo-data`` call it before anything touches the
database. The servers (relay, metrics, worker, the action server, the X channel inside
Rasa) never change the schema; they check it with :func:`require_current` and stop with
a message that says to run ``python -m bot db upgrade``. That way a schema change is one
step an operator sees, not a race between five processes starting at once.

The upgrade itself may still run twice at the same time (two ``bot run``, a compose
one-shot and a developer's shell): it holds a lock for the whole upgrade (PostgreSQL: a
transaction-level advisory lock, with transactional DDL; SQLite: ``BEGIN IMMEDIATE``,
SQLite's database write lock), so the second waits and then finds nothing to do.

Revision 0001 is the schema as it was before migrations existed; it creates only the
tables a database lacks, so a database made by the old ``create_all`` is adopted as it is.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from bot.db import engine, is_sqlite, new_engine, where
from bot.migrations.tables import metadata

MIGRATIONS_DIR = Path(__file__).resolve().parent
# pg_advisory_xact_lock key of the schema upgrade: any fixed 64-bit number no other
# application on the same PostgreSQL server uses ("hl-migra" in ASCII).
UPGRADE_LOCK_KEY = 0x686C2D6D69677261
UPGRADE_HINT = "run `python -m bot db upgrade` (with SUPPORTBOT_DATABASE_URL naming this database)"


class SchemaNotCurrent(RuntimeError):
    """The database is not at the schema this code needs; the message says what to run."""


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    """The shipped revisions (read once per process: servers check the schema at start)."""
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    """The newest revision this code ships."""
    head = _scripts().get_current_head()
    assert head is not None, f"no migrations in {MIGRATIONS_DIR / 'versions'}"
    return head


def current_revision(url: str) -> str | None:
    """The revision the database is at; None for an empty (or pre-migrations) database."""
    with engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


# Seconds between attempts when SQLite refuses an upgrader outright (see upgrade).
SQLITE_LOCKED_RETRY_PAUSES = (0.5, 1.0, 1.5, 2.0)


@contextmanager
def _locked(url: str) -> Iterator[Connection]:
    """One transaction that holds the upgrade lock; a second upgrader waits for it."""
    migrating = new_engine(url, poolclass=NullPool)
    if is_sqlite(url):
        # pysqlite would commit around DDL on its own; take over the transaction so the
        # whole upgrade is one BEGIN IMMEDIATE ... COMMIT (the documented SQLAlchemy recipe).
        event.listen(migrating, "connect", _manual_transactions)
        event.listen(migrating, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    try:
        with migrating.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK_KEY})
            yield connection
    finally:
        migrating.dispose()


def _manual_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


def upgrade(url: str, revision: str = "head") -> str | None:
    """Bring the database to ``revision`` (default: the newest); returns the revision it was at.

    On SQLite a concurrent upgrader was once refused with "database is locked" instead of
    waiting for the lock (full suite, 2 busy cores, 4 upgraders of one new file; which step
    skipped the busy timeout was not pinned down). The upgrade is one transaction, so a
    refused attempt changed nothing and is simply tried again.
    """
    for pause in SQLITE_LOCKED_RETRY_PAUSES:
        try:
            return _upgrade_once(url, revision)
        except OperationalError as exc:
            if not is_sqlite(url) or "locked" not in str(exc):
                raise
            time.sleep(pause)
    return _upgrade_once(url, revision)


def _upgrade_once(url: str, revision: str) -> str | None:
    with _locked(url) as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(_config(connection), revision)
    return before


def downgrade(url: str, revision: str) -> None:
    """Take the database back to ``revision`` (``"base"``: no tables at all)."""
    with _locked(url) as connection:
        command.downgrade(_config(connection), revision)


def require_current(url: str) -> None:
    """Raise :class:`SchemaNotCurrent` unless the database is at this code's newest revision."""
    head, current = head_revision(), current_revision(url)
    if current == head:
        return
    known = {script.revision for script in _scripts().walk_revisions()}
    if current is not None and current not in known:
        raise SchemaNotCurrent(
            f"the database {where(url)} is at schema revision {current}, newer than this code knows "
            f"({head}): run the newer version of the bot, or downgrade the database with it first"
        )
    raise SchemaNotCurrent(
        f"the database {where(url)} is at schema revision {current or 'none (no tables yet)'}, "
        f"this code needs {head}: {UPGRADE_HINT}"
    )


def schema_problem(url: str) -> str | None:
    """What stops a server or command from using the database (behind, ahead, unreachable), or None.

    Servers never migrate (several starting at once would race): they stop with this text,
    which says what to run or check.
    """
    from sqlalchemy.exc import SQLAlchemyError

    try:
        require_current(url)
    except SchemaNotCurrent as exc:
        return str(exc)
    except SQLAlchemyError as exc:
        return (
            f"cannot reach the database {where(url)} ({exc.__class__.__name__}); "
            "check SUPPORTBOT_DATABASE_URL and that the database server is up"
        )
    return None


def differences(url: str) -> list[Any]:
    """What the models declare and the database (after ``upgrade``) lacks, or has otherwise.

    Empty when every table, column, type, index and constraint agrees; anything else
    means a model changed without a migration (``python -m bot db revision``).
    """
    with engine(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata())


def write_revision(url: str, message: str) -> Path:
    """Write the next migration from the difference between the models and ``url``'s schema.

    The database must be at the newest revision (``upgrade`` it first); review the
    generated file before committing it: Alembic cannot tell a rename from drop + add.
    """
    require_current(url)
    number = len(list(ScriptDirectory.from_config(_config()).walk_revisions())) + 1
    with _locked(url) as connection:
        script = command.revision(
            _config(connection), message=message, autogenerate=True, rev_id=f"{number:04d}"
        )
    assert script is not None and not isinstance(script, list)
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if Path(ruff).exists():  # the project's style (a developer tool; absent in a production install)
        subprocess.run([ruff, "format", "--quiet", script.path], check=False)
    return Path(script.path)
