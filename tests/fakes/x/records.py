"""What the fake X account holds: users, DMs and tweets with X's ids, fields and lengths.

Pure data, no HTTP and no lock (``FakeX`` holds the lock around every use). Objects carry only
X's default fields plus what ``*.fields`` / ``expansions`` ask for: X omits fields nobody asked
for, and a forgotten ``dm_event.fields`` is a bug the fake must expose.
"""

from __future__ import annotations

import copy
import datetime
import re
import time
from collections.abc import Mapping
from typing import Any

TWEET_MAX_WEIGHT = 280
DM_MAX_CHARS = 10_000
#: Twitter's snowflake epoch (ms); ids encode their creation time like real ones.
_TWEPOCH_MS = 1_288_834_974_657
DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")
DEFAULT_DM_FIELDS = ("id", "event_type", "text")
DEFAULT_USER_FIELDS = ("id", "name", "username")
#: Bookkeeping keys on records that X never returns.
_PRIVATE = {"recipient_id", "source", "in_reply_to"}
#: twitter-text v3 weighting: code points in these ranges weigh 1, everything else 2.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_URL_RE = re.compile(
    r"(?:https?://|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|co|ly|app|dev)\b\S*",
    re.IGNORECASE,
)
_MENTION_RE = re.compile(r"(?<![\w@])@(\w{1,15})")


def tweet_length(text: str) -> int:
    """X's weighted tweet length, approximately: each URL counts 23, CJK/emoji code points count 2.

    Real X uses twitter-text (emoji sequences weigh 2 as a whole, stricter URL detection); this
    counts every heavy code point as 2, so emoji with joiners/modifiers may be over-counted.
    """
    weight = 0
    last = 0
    for match in _URL_RE.finditer(text):
        weight += _weigh(text[last : match.start()]) + 23
        last = match.end()
    return weight + _weigh(text[last:])


def _weigh(chunk: str) -> int:
    return sum(1 if any(lo <= ord(ch) <= hi for lo, hi in _LIGHT_RANGES) else 2 for ch in chunk)


def created_ms(snowflake: str) -> int:
    """The creation time (epoch ms) an X id encodes."""
    return (int(snowflake) >> 22) + _TWEPOCH_MS


def _iso(ms: int) -> str:
    """v2 timestamps: `2024-05-01T12:00:00.000Z` (tweepy parses exactly this format)."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def csv_param(value: str | None) -> set[str]:
    """`tweet.fields=a,b` and friends as a set."""
    return {part.strip() for part in (value or "").split(",") if part.strip()}


class XRecords:
    """The brand's account and everything it saw or sent, oldest first."""

    def __init__(self, brand_id: str, brand_username: str, brand_name: str) -> None:
        self.brand_id = brand_id
        self.users: dict[str, dict[str, str]] = {
            brand_id: {"id": brand_id, "name": brand_name, "username": brand_username}
        }
        self.dms: list[dict[str, Any]] = []
        self.tweets: dict[str, dict[str, Any]] = {}
        self._last_id = 0
        self._unnamed = 0

    @property
    def brand_username(self) -> str:
        return self.users[self.brand_id]["username"]

    def conversation_id(self, user_id: str) -> str:
        """The one-to-one `dm_conversation_id` X uses between the brand and a user: `lower-higher`."""
        a, b = sorted((self.brand_id, str(user_id)), key=int)
        return f"{a}-{b}"

    def new_id(self) -> str:
        """A snowflake: creation time in the high bits, strictly increasing."""
        candidate = (int(time.time() * 1000) - _TWEPOCH_MS) << 22
        self._last_id = max(candidate, self._last_id + 1)
        return str(self._last_id)

    def ensure_user(self, user_id: str) -> None:
        if user_id not in self.users:
            self._unnamed += 1
            n = self._unnamed
            self.users[user_id] = {"id": user_id, "name": f"Customer {n}", "username": f"customer{n}"}

    def user_by_username(self, username: str) -> dict[str, str] | None:
        return next((u for u in self.users.values() if u["username"].lower() == username.lower()), None)

    def last_customer(self) -> str | None:
        if not self.dms:
            return None
        event = self.dms[-1]
        return event["recipient_id"] if event["sender_id"] == self.brand_id else event["sender_id"]

    def record_dm(
        self,
        sender_id: str,
        recipient_id: str,
        text: str,
        source: str,
        attachments: dict[str, Any] | None = None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        """Store a DM event; `source` is "customer", "api" (the bot sent it) or "external" (X app).

        An existing `event_id` returns that event unchanged (X redelivering it).
        """
        existing = next((e for e in self.dms if event_id is not None and e["id"] == str(event_id)), None)
        if existing is not None:
            return existing
        self.ensure_user(sender_id)
        self.ensure_user(recipient_id)
        if event_id is None:
            event_id = self.new_id()
        else:
            self._last_id = max(self._last_id, int(event_id))
        other = recipient_id if sender_id == self.brand_id else sender_id
        event: dict[str, Any] = {
            "id": event_id,
            "event_type": "MessageCreate",
            "text": text,
            "sender_id": sender_id,
            "dm_conversation_id": self.conversation_id(other),
            "created_at": _iso(created_ms(event_id)),
            "recipient_id": recipient_id,
            "source": source,
        }
        if attachments:
            event["attachments"] = copy.deepcopy(attachments)
        self.dms.append(event)
        self.dms.sort(key=lambda e: int(e["id"]))
        return event

    def record_tweet(
        self, author_id: str, text: str, in_reply_to: str | None = None, source: str = "customer"
    ) -> dict[str, Any]:
        self.ensure_user(author_id)
        tweet_id = self.new_id()
        parent = self.tweets.get(str(in_reply_to)) if in_reply_to else None
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "text": text,
            "edit_history_tweet_ids": [tweet_id],
            "author_id": author_id,
            "conversation_id": parent["conversation_id"] if parent else str(in_reply_to or tweet_id),
            "created_at": _iso(created_ms(tweet_id)),
            "lang": "en",
            "in_reply_to": str(in_reply_to) if in_reply_to else None,
            "source": source,
        }
        if in_reply_to:
            tweet["in_reply_to_user_id"] = parent["author_id"] if parent else self.brand_id
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": str(in_reply_to)}]
        mentions = []
        for match in _MENTION_RE.finditer(text):
            user = self.user_by_username(match.group(1))
            entry = {"start": match.start(), "end": match.end(), "username": match.group(1)}
            mentions.append({**entry, "id": user["id"]} if user else entry)
        if mentions:
            tweet["entities"] = {"mentions": mentions}
        self.tweets[tweet_id] = tweet
        return tweet

    def mentions_of(self, user_id: str) -> list[dict[str, Any]]:
        """Tweets by others that mention `user_id`, newest first."""
        user = self.users.get(user_id)
        if user is None:
            return []
        handle = user["username"].lower()
        return [
            t
            for t in sorted(self.tweets.values(), key=lambda t: int(t["id"]), reverse=True)
            if t["author_id"] != user_id
            and any(m["username"].lower() == handle for m in t.get("entities", {}).get("mentions", []))
        ]

    @staticmethod
    def select(
        record: Mapping[str, Any], defaults: tuple[str, ...], wanted: set[str] | None
    ) -> dict[str, Any]:
        """Project a record onto X's default + requested fields (every public field when None)."""
        keep = None if wanted is None else set(defaults) | wanted
        return copy.deepcopy(
            {k: v for k, v in record.items() if k not in _PRIVATE and (keep is None or k in keep)}
        )

    def public_users(self, user_ids: list[str], wanted: set[str]) -> list[dict[str, Any]]:
        """`includes.users` for these ids: each known user once, in order."""
        seen = list(dict.fromkeys(u for u in user_ids if u in self.users))
        return [self.select(self.users[u], DEFAULT_USER_FIELDS, wanted) for u in seen]
