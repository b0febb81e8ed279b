"""What we know of the Slack messages in handoff threads, kept in our own table (``slack_posts``).

Why: Slack limits ``conversations.history`` / ``conversations.replies`` to one request a minute
(15 messages) for apps distributed outside its Marketplace, so the desk never reads Slack back
for state. Instead every message is written down when we learn of it:

- our posts when ``chat.postMessage`` answers (:meth:`SlackDesk._post`), and again from Slack's
  ``message_metadata_posted`` event (bot/handoff/desks/slack/post_events.py): when the answer
  was lost (a crash, a cut line) the event still says the post went out, so the outbox's
  reconciliation (``find_delivery``) finds its delivery key here and does not post twice;
- the agents' messages in a card's thread, from their ``message`` events, so that erasing a
  customer (bot/retention/slack_cleanup.py) knows every message of the thread.

Recording is idempotent: on the delivery key for our posts, on (channel, ts) for everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from bot.db import Sessions
from bot.handoff.models import SlackPost
from bot.outbox import utcnow

#: ``author`` of our own posts; an agent's message has their Slack user id.
BOT = "bot"
KEY_LENGTH = 250  # the delivery_key column


@dataclass(frozen=True)
class StoredPost:
    channel: str
    ts: str
    thread_ts: str | None
    author: str
    delivery_key: str | None
    created_at: datetime

    @property
    def ours(self) -> bool:
        return self.author == BOT


class SlackPosts:
    """The ``slack_posts`` table: record a message once, look one up by delivery key or thread."""

    def __init__(self, db: Sessions) -> None:
        self.db = db  # a bot.db.Database (HandoffStore.db)

    def record(
        self,
        channel: str,
        ts: str,
        *,
        thread_ts: str | None = None,
        author: str = BOT,
        key: str | None = None,
    ) -> bool:
        """Write one message down; False if it (its key, or its channel and ts) is known already.

        ``thread_ts`` equal to ``ts`` (a thread's parent) is stored as None: a top-level post.
        """
        thread = thread_ts if thread_ts and thread_ts != ts else None
        key = key[:KEY_LENGTH] if key else None
        with self.db.session() as session:
            known = [(SlackPost.channel == channel) & (SlackPost.ts == ts)]
            if key:
                known.append(SlackPost.delivery_key == key)
            if session.scalars(select(SlackPost.id).where(or_(*known))).first() is not None:
                return False
            row = SlackPost(
                channel=channel, ts=ts, thread_ts=thread, author=author, delivery_key=key, created_at=utcnow()
            )
            try:
                with session.begin_nested():  # two deliveries of one event at once: one wins
                    session.add(row)
            except IntegrityError:
                return False
        return True

    def find(self, key: str) -> StoredPost | None:
        """Our post carrying the delivery ``key`` (an outbox item's), if it went out."""
        with self.db.session() as session:
            row = session.scalars(select(SlackPost).where(SlackPost.delivery_key == key[:KEY_LENGTH])).first()
            return _stored(row) if row is not None else None

    def get(self, channel: str, ts: str) -> StoredPost | None:
        with self.db.session() as session:
            row = session.scalars(
                select(SlackPost).where(SlackPost.channel == channel, SlackPost.ts == ts)
            ).first()
            return _stored(row) if row is not None else None

    def thread(self, channel: str, thread_ts: str) -> list[StoredPost]:
        """The parent (when recorded) and every recorded reply of a thread, oldest first."""
        with self.db.session() as session:
            rows = session.scalars(
                select(SlackPost)
                .where(
                    SlackPost.channel == channel,
                    or_(SlackPost.ts == thread_ts, SlackPost.thread_ts == thread_ts),
                )
                .order_by(SlackPost.id)
            ).all()
            found = [_stored(row) for row in rows]
        return sorted(found, key=lambda post: (post.ts != thread_ts, _ts_order(post.ts)))

    def forget(self, channel: str, ts: str) -> int:
        """Drop a message Slack says was deleted (``message_deleted``); how many rows went."""
        with self.db.session() as session:
            rows = session.scalars(
                select(SlackPost).where(SlackPost.channel == channel, SlackPost.ts == ts)
            ).all()
            for row in rows:
                session.delete(row)
            return len(rows)


def _stored(row: SlackPost) -> StoredPost:
    return StoredPost(
        channel=str(row.channel),
        ts=str(row.ts),
        thread_ts=str(row.thread_ts) if row.thread_ts else None,
        author=str(row.author),
        delivery_key=str(row.delivery_key) if row.delivery_key else None,
        created_at=row.created_at,
    )


def _ts_order(ts: str) -> float:
    try:
        return float(ts)
    except ValueError:
        return 0.0
