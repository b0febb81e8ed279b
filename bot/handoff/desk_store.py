"""The local agent inbox's posts (table ``desk_messages``): cards and their threads without Slack.

Why a module of its own: the inbox (bot/handoff/desks/inbox/) stores what Slack would keep for
us, posts shaped like Slack's (a ``ts`` each, threads by ``thread_ts``), which is a concern of
its own next to the handoff state. ``HandoffStore`` (bot/handoff/store.py) inherits these
methods, so the relay's desk, the inbox routes and the digest job reach them through the one
store they already hold.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.db import Sessions
from bot.handoff.models import DeskMessage
from bot.outbox import utcnow


class DeskStore:
    """Posts of the local inbox; each method is one transaction."""

    def __init__(self, db: Sessions) -> None:
        self.db = db  # bot.db.Database (a CustomerStore on the same database works too)

    def desk_post(
        self,
        *,
        author: str,
        text: str,
        blocks: Any = None,
        thread_ts: str | None = None,
        key: str | None = None,
    ) -> str:
        """Store a post in the local inbox; returns its ts (same shape as Slack's).

        With ``key`` (an outbox item's) at most once: a second post with the key returns the first's ts.
        """
        if key is not None and (existing := self.desk_find(key)) is not None:
            return existing
        try:
            with self.db.session() as session:
                row = DeskMessage(
                    ts=f"pending.{uuid.uuid4().hex}",
                    thread_ts=thread_ts,
                    author=author,
                    text=text,
                    blocks=blocks,
                    created_at=utcnow(),
                    delivery_key=key,
                )
                session.add(row)
                session.flush()
                row.ts = f"local.{row.id:08d}"
                return row.ts
        except IntegrityError:  # another worker posted it in the meantime (the key is unique)
            found = self.desk_find(key) if key is not None else None
            if found is None:
                raise
            return found

    def desk_find(self, key: str) -> str | None:
        """The ts of the inbox post an outbox item made, if it made one."""
        with self.db.session() as session:
            return session.scalar(select(DeskMessage.ts).where(DeskMessage.delivery_key == key))

    def desk_update(self, ts: str, *, text: str, blocks: Any = None) -> None:
        """Edit a post in place (a card whose handoff changed state), as Slack's chat.update."""
        with self.db.session() as session:
            row = session.scalars(select(DeskMessage).where(DeskMessage.ts == ts)).first()
            if row is not None:
                row.text, row.blocks, row.updated_at = text, blocks, utcnow()

    def desk_thread(self, thread_ts: str) -> list[dict[str, Any]]:
        """The replies under a card, oldest first, as the inbox page shows them."""
        with self.db.session() as session:
            rows = session.scalars(
                select(DeskMessage).where(DeskMessage.thread_ts == thread_ts).order_by(DeskMessage.id)
            )
            return [
                {"ts": r.ts, "author": r.author, "text": r.text, "created_at": r.created_at.isoformat()}
                for r in rows
            ]
