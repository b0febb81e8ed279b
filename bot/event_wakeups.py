"""Waking an SQL-broker consumer when Rasa writes new events, instead of querying on a timer.

Why: the relay and the metrics each queried the broker table every 0.2 s, all day, in the
worker process that shares two cores with Rasa; and a customer's message to an agent waited
up to 0.2 s for the next query. Now a consumer with nothing to read waits for a sign of a
write and reads at once:

- **SQLite**: the database header's *file change counter* (bytes 24–27), which SQLite bumps
  on every commit in rollback-journal mode, and in WAL mode (bot.db.pooled_sqlite_engine)
  the wal-index header at the start of the ``-shm`` file, whose change counter and last
  frame move on every commit. Reading them is a ``stat`` and a small ``pread`` per file every
  ``SQLITE_CHECK_SECONDS``: microseconds, against a pooled SQL query.
- **PostgreSQL**: ``LISTEN supportbot_events``; ``bot.event_broker.BatchedSQLEventBroker``
  sends the ``NOTIFY`` in the transaction that stores the events.
- anything else: the old timer.

Whatever the store, the table is also read every ``SAFETY_SECONDS`` without a sign, so a
missed signal (a broker that is Rasa's own ``type: SQL``, which sends no NOTIFY) delays
events, never loses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from bot.event_broker import NOTIFY_CHANNEL

logger = logging.getLogger(__name__)

SQLITE_CHECK_SECONDS = 0.05
SAFETY_SECONDS = 5.0


class Wakeups:
    """Waits until the broker table may have new rows (or a stop, or the safety timeout)."""

    async def wait(self, stop: asyncio.Event) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the waiting holds (a LISTEN connection)."""


class TimerWakeups(Wakeups):
    def __init__(self, interval: float) -> None:
        self.interval = interval

    async def wait(self, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=self.interval)


class SQLiteFileWakeups(Wakeups):
    """Watches the SQLite file for a commit (see the module docstring).

    Cheap by construction, measured in the worker's profile: the files stay open (one
    ``pread`` each per check, reopened if a file is replaced) and the check sleeps with
    ``asyncio.sleep`` rather than a timeout task.
    """

    def __init__(self, path: Path, check_every: float = SQLITE_CHECK_SECONDS) -> None:
        self.path = path
        self.check_every = check_every
        self._files: dict[str, tuple[int, int]] = {}  # suffix -> (fd, inode)
        self._seen = self._signature()

    def _read(self, suffix: str, offset: int, size: int) -> bytes | None:
        """``size`` bytes at ``offset`` of the file (``suffix``: "", "-wal", "-shm"); None if absent."""
        path = f"{self.path}{suffix}"
        try:
            inode = os.stat(path).st_ino
        except OSError:
            self._close(suffix)
            return None
        opened = self._files.get(suffix)
        if opened is None or opened[1] != inode:
            self._close(suffix)
            try:
                opened = self._files[suffix] = (os.open(path, os.O_RDONLY), inode)
            except OSError:
                return None
        try:
            return os.pread(opened[0], size, offset) + os.fstat(opened[0]).st_size.to_bytes(8, "little")
        except OSError:
            self._close(suffix)
            return None

    def _signature(self) -> tuple[Any, ...]:
        # rollback journal: the header's change counter; WAL: the wal-index header in -shm
        # (its change counter and last frame), and the -wal file's size
        return (self._read("", 24, 4), self._read("-shm", 0, 48), self._read("-wal", 0, 0))

    async def wait(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + SAFETY_SECONDS
        while not stop.is_set() and loop.time() < give_up:
            signature = self._signature()
            if signature != self._seen:
                self._seen = signature
                return
            await asyncio.sleep(self.check_every)
        self._seen = self._signature()

    def _close(self, suffix: str) -> None:
        opened = self._files.pop(suffix, None)
        if opened is not None:
            with contextlib.suppress(OSError):
                os.close(opened[0])

    def close(self) -> None:
        for suffix in list(self._files):
            self._close(suffix)


class PostgresNotifyWakeups(Wakeups):
    """``LISTEN`` on a connection of its own, read without a thread (``loop.add_reader``)."""

    def __init__(self, engine: Engine) -> None:
        raw = engine.raw_connection()
        raw.detach()  # ours for good: never back to the pool in LISTEN state
        self._connection: Any = raw.connection
        self._connection.autocommit = True
        with self._connection.cursor() as cursor:
            cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")

    async def wait(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        notified = asyncio.Event()
        descriptor = self._connection.fileno()
        loop.add_reader(descriptor, notified.set)
        try:
            self._drain()
            if self._had_notice:
                return
            waits = [asyncio.ensure_future(notified.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waits, timeout=SAFETY_SECONDS, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
        finally:
            loop.remove_reader(descriptor)
        self._drain()

    def _drain(self) -> None:
        self._connection.poll()
        self._had_notice = bool(self._connection.notifies)
        self._connection.notifies.clear()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._connection.close()


def wakeups_for(engine: Engine, interval: float) -> Wakeups:
    """The cheapest way to hear about new rows in ``engine``'s database."""
    dialect = engine.dialect.name
    try:
        if dialect == "sqlite" and engine.url.database:
            return SQLiteFileWakeups(Path(engine.url.database))
        if dialect == "postgresql":
            return PostgresNotifyWakeups(engine)
    except Exception as exc:  # a consumer must still run: fall back to the timer
        logger.warning("event stream: cannot watch %s for new events (%s); polling every %s s",
                       dialect, exc, interval)  # fmt: skip
    return TimerWakeups(interval)
