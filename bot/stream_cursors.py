"""How far each consumer has read its stream: one table, one upsert, for every reader.

The handoff relay and the metrics service follow Rasa's SQL event broker table (position:
the broker row id); the X poller follows the account's mentions and direct messages
(position: the newest tweet / DM event id handled). All are growing integers, so one
``BIGINT`` column holds them (X ids are 63-bit snowflakes), and a cursor only ever moves
forward: a late or repeated save from a slower process can never make a reader replay.
The cursor is saved after the events are handled, so a crash in between replays a few
events, which every consumer deduplicates (see ``bot/event_stream.py``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, update
from sqlalchemy.exc import IntegrityError

from bot.db import Base, Sessions


class StreamCursor(Base):
    __tablename__ = "stream_cursors"

    name = Column(String(100), primary_key=True)  # "rasa-event-broker", "metrics", "x:dm", ...
    position = Column(BigInteger, nullable=False)


class StreamCursors:
    """Named read positions; each method is one transaction."""

    def __init__(self, db: Sessions) -> None:
        self.db = db

    def position(self, name: str) -> int | None:
        """Where ``name`` stopped reading; None if it never saved a position."""
        with self.db.session() as session:
            row = session.get(StreamCursor, name)
            return int(row.position) if row else None

    def advance(self, name: str, position: int) -> None:
        """Save ``position`` unless the cursor is already there or beyond."""
        for _attempt in range(2):
            with self.db.session() as session:
                moved = session.execute(
                    update(StreamCursor)
                    .where(StreamCursor.name == name, StreamCursor.position < position)
                    .values(position=position)
                    .execution_options(synchronize_session=False)
                )
                if moved.rowcount or session.get(StreamCursor, name) is not None:
                    return
            try:
                with self.db.session() as session:
                    session.add(StreamCursor(name=name, position=position))
                return
            except IntegrityError:  # another process saved the first position just now
                continue
