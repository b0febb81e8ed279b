"""What the X channel remembers in the database: cursors, seen events, button choices.

- **Cursors** (newest DM event / mention id handled) make polling restart-safe: nothing
  is replayed, nothing skipped. They are stream cursors (bot/stream_cursors.py) named
  ``x:mentions`` and ``x:dm``.
- **Seen events** make every delivery idempotent, whichever way it came in (X retrying a
  webhook, the poller repeating a hand-off that timed out): an event id is recorded only
  after it was handled successfully, so a failure (or a crash) leaves it to be retried,
  and once recorded every later copy is dropped. Retrying a half-handled event cannot
  answer twice either: the replies of one event are queued with dedupe keys
  (``x-dm:<event>:<n>``), so a part already queued is not queued again
  (bot/channels/x.py says how a retry finds what was already recorded).
- **Choices**: X DMs have no buttons, so options are sent as a numbered list and a
  reply of "2" is turned back into the second option's payload.

Outgoing DMs and tweets go through the shared outbox (bot/outbox.py), queue
``x:dm:<user id>`` or ``x:tweet:<tweet id>``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, DateTime, String
from sqlalchemy.exc import IntegrityError

from bot.db import Base, Sessions
from bot.outbox import Outbox, enqueue, utcnow
from bot.stream_cursors import StreamCursors

SEND_DM = "x.dm"
SEND_TWEET = "x.tweet"


class XSeenEvent(Base):
    __tablename__ = "x_seen_events"

    key = Column(String(80), primary_key=True)  # "dm:<event id>" or "tweet:<tweet id>"
    seen_at = Column(DateTime, nullable=False)


class XChoices(Base):
    __tablename__ = "x_choices"

    conversation_id = Column(String(200), primary_key=True)
    options = Column(JSON, nullable=False)  # [{"title": ..., "payload": ...}]


class XStore:
    def __init__(self, db: Sessions) -> None:
        self.db = db  # bot.db.Database (a CustomerStore on the same database works too)
        self._cursors = StreamCursors(db)

    def outbox(self) -> Outbox:
        return Outbox(self.db.session, prefixes=("x:",))

    def seen(self, key: str) -> bool:
        """Whether the event ``key`` was handled successfully before (by any process)."""
        with self.db.session() as session:
            return session.get(XSeenEvent, key) is not None

    def mark_seen(self, key: str) -> None:
        """Record that the event ``key`` was handled; call only after it succeeded."""
        try:
            with self.db.session() as session:
                session.add(XSeenEvent(key=key, seen_at=utcnow()))
        except IntegrityError:
            pass  # recorded by another process that handled a copy of it: the same outcome

    def cursor(self, name: str) -> str | None:
        """The newest id handled (``"0"``: none yet), as X spells ids; None before the first poll."""
        position = self._cursors.position(f"x:{name}")
        return None if position is None else str(position)

    def set_cursor(self, name: str, value: str) -> None:
        """Move a cursor forward (never back: ids only grow)."""
        self._cursors.advance(f"x:{name}", int(value))

    def remember_choices(self, conversation_id: str, options: list[dict[str, Any]]) -> None:
        with self.db.session() as session:
            row = session.get(XChoices, conversation_id)
            if row is None:
                session.add(XChoices(conversation_id=conversation_id, options=options))
            else:
                row.options = options

    def resolve_choice(self, conversation_id: str, text: str) -> tuple[str, list[dict[str, Any]]] | None:
        """The payload of option ``text`` ("1", "2", …) if the last message offered choices.

        Read only, with the options it was chosen from: the choice is forgotten
        (:meth:`forget_choices`) only once the turn succeeded, so a retried event picks
        the same option again.
        """
        if not text.strip().isdigit():
            return None
        with self.db.session() as session:
            row = session.get(XChoices, conversation_id)
            options = list(row.options) if row else []
        index = int(text.strip()) - 1
        if 0 <= index < len(options):
            return str(options[index].get("payload") or options[index].get("title")), options
        return None

    def forget_choices(self, conversation_id: str, options: list[dict[str, Any]]) -> None:
        """Drop the offered ``options`` once one was used, unless the turn offered new ones."""
        with self.db.session() as session:
            row = session.get(XChoices, conversation_id)
            if row is not None and list(row.options) == options:
                session.delete(row)

    def drop_choices(self, conversation_id: str) -> None:
        """Forget any offered options: the bot has since asked something without them."""
        with self.db.session() as session:
            row = session.get(XChoices, conversation_id)
            if row is not None:
                session.delete(row)

    def send_dm(self, user_id: str, text: str, dedupe_key: str | None = None) -> bool:
        """Queue a DM; False if ``dedupe_key`` (a reply part of one event) was queued before."""
        with self.db.session() as session:
            payload = {"user_id": user_id, "text": text}
            return enqueue(session, f"x:dm:{user_id}", SEND_DM, payload, dedupe_key=dedupe_key)

    def send_replies(self, tweet_id: str, texts: list[str]) -> None:
        """Queue a public reply (a thread if it needs several tweets), once per tweet."""
        with self.db.session() as session:
            for number, text in enumerate(texts):
                enqueue(
                    session, f"x:tweet:{tweet_id}", SEND_TWEET,
                    {"in_reply_to": tweet_id, "text": text, "part": number},
                    dedupe_key=f"x-reply:{tweet_id}:{number}",
                )  # fmt: skip
