"""The Slack Web API methods the relay calls, over one workspace's recorded messages.

``auth.test`` (Bolt, once), ``chat.postMessage``, ``chat.update``, ``chat.getPermalink``
(survey follow-ups), ``users.info``, ``views.open`` and ``views.publish`` (the App Home tab;
tests/test_slack_manifest.py keeps that list honest), and for ``python -m bot
erase`` ``chat.delete`` (and ``conversations.replies`` for threads older than the relay's own
record of its posts); ``conversations.history`` / ``.replies`` with message ``metadata`` stay so
that tests can show the relay never calls them. Any other method answers
``unknown_method``, as Slack does. Handlers run with the fake's lock held and return the JSON
body (Slack answers API errors with HTTP 200 and ``"ok": false``).
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import time
import uuid
from typing import Any

#: Message options the relay sets and tests assert (the card must not unfurl customer links).
MESSAGE_OPTIONS = ("unfurl_links", "unfurl_media")
#: Bookkeeping keys on recorded messages that real Slack does not return inside `message`.
_PRIVATE_KEYS = {"channel", "history", "metadata", *MESSAGE_OPTIONS}


class Workspace:
    """One Slack workspace with one bot: users, channel names, messages, opened modals."""

    bot_user_id = "UBOT"
    bot_id = "BBOT"
    team_id = "T0001"
    api_app_id = "A0001"
    bot_name = "supportbot"

    def __init__(self) -> None:
        self.sequence = itertools.count(1)
        self.messages: dict[str, dict[str, Any]] = {}
        self.views: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, str] = {}
        self.usergroups: dict[str, dict[str, Any]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.home_views: dict[str, dict[str, Any]] = {}  # App Home: the latest view published per user
        self.add_user(self.bot_user_id, "Support Bot", "", self.bot_name)

    def add_user(
        self,
        user_id: str,
        real_name: str,
        display_name: str,
        name: str,
        *,
        team_id: str | None = None,
        guest: str | None = None,
        deleted: bool = False,
    ) -> None:
        """``guest``: ``"multi"`` (is_restricted) or ``"single"`` (also is_ultra_restricted)."""
        team = team_id or self.team_id
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": team,
            "name": name,
            "deleted": deleted,
            "real_name": real_name,
            "tz": "Europe/London",
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": guest in ("multi", "single"),
            "is_ultra_restricted": guest == "single",
            "is_bot": user_id == self.bot_user_id,
            "is_app_user": False,
            "profile": {"real_name": real_name, "display_name": display_name, "team": team},
        }
        if team != self.team_id:  # how users.info shows a Slack Connect member of another organisation
            user["is_stranger"] = True
            user["enterprise_user"] = None
        self.users[user_id] = user

    def add_usergroup(self, group_id: str, handle: str, members: list[str]) -> None:
        self.usergroups[group_id] = {
            "id": group_id,
            "team_id": self.team_id,
            "handle": handle,
            "users": members,
        }

    def user_team(self, user_id: str) -> str:
        """The team a user belongs to (ours for users the workspace does not know)."""
        return str(self.users.get(user_id, {}).get("team_id") or self.team_id)

    def new_ts(self) -> str:
        """A unique, increasing message ts such as `1700000000.000100`."""
        n = next(self.sequence)
        return f"{1_700_000_000 + n // 10_000}.{n % 10_000 * 100:06d}"

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one authorised Web API call."""
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        return handler(params)

    @staticmethod
    def public(msg: dict[str, Any]) -> dict[str, Any]:
        """A recorded message as Slack returns it (no bookkeeping keys)."""
        return copy.deepcopy({k: v for k, v in msg.items() if k not in _PRIVATE_KEYS})

    # ------------------------------------------------------------------ the methods

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake-workspace.slack.com/",
            "team": "Fake Workspace",
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
        }

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not (params.get("text") or params.get("blocks")):
            return {"ok": False, "error": "no_text"}
        channel = self._resolve_channel(str(params["channel"]))
        ts = self.new_ts()
        msg: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "ts": ts,
            "text": params.get("text", ""),
            "blocks": _with_block_ids(params.get("blocks") or []),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.api_app_id,
            "team": self.team_id,
        }
        thread_ts = params.get("thread_ts")
        if thread_ts:
            parent = self.messages.get(str(thread_ts))
            if parent is not None and parent.get("thread_ts"):  # replying to a reply joins its thread
                thread_ts = parent["thread_ts"]
            msg["thread_ts"] = str(thread_ts)
        for option in MESSAGE_OPTIONS:
            if option in params:
                msg[option] = params[option]
        metadata = params.get("metadata")  # message metadata: returned only with include_all_metadata
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata:
            if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str):
                return {"ok": False, "error": "invalid_metadata_format"}
            msg["metadata"] = {"event_type": metadata["event_type"],
                               "event_payload": metadata.get("event_payload") or {}}  # fmt: skip
        self.messages[ts] = {**msg, "history": []}
        return {"ok": True, "channel": channel, "ts": ts, "message": self.public(msg)}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        msg = self.messages.get(str(params.get("ts")))
        if msg is None or msg["channel"] != self._resolve_channel(str(params.get("channel", ""))):
            return {"ok": False, "error": "message_not_found"}
        if msg.get("bot_id") != self.bot_id:
            return {"ok": False, "error": "cant_update_message"}
        msg["history"].append({"text": msg.get("text"), "blocks": copy.deepcopy(msg.get("blocks"))})
        if "text" in params:
            msg["text"] = params["text"]
        if "blocks" in params:
            msg["blocks"] = _with_block_ids(params["blocks"])
        msg["edited"] = {"user": self.bot_user_id, "ts": self.new_ts()}
        public = self.public(msg)
        return {
            "ok": True,
            "channel": msg["channel"],
            "ts": msg["ts"],
            "text": msg["text"],
            "message": public,
        }

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        """Slack lets a bot token delete only the bot's own messages (``cant_delete_message``)."""
        msg = self.messages.get(str(params.get("ts")))
        if msg is None or msg["channel"] != self._resolve_channel(str(params.get("channel", ""))):
            return {"ok": False, "error": "message_not_found"}
        if msg.get("bot_id") != self.bot_id:
            return {"ok": False, "error": "cant_delete_message"}
        del self.messages[msg["ts"]]
        return {"ok": True, "channel": msg["channel"], "ts": msg["ts"]}

    def _chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:
        """A message's permalink, built the way Slack builds them (``/archives/<channel>/p<ts digits>``)."""
        channel, ts = self._resolve_channel(str(params.get("channel", ""))), str(params.get("message_ts"))
        msg = self.messages.get(ts)
        if msg is None or msg["channel"] != channel:
            return {"ok": False, "error": "message_not_found"}
        link = f"https://fake-workspace.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        if msg.get("thread_ts") and msg["thread_ts"] != ts:
            link += f"?thread_ts={msg['thread_ts']}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        """A thread, parent first (one page: the fake's threads are short)."""
        channel, ts = self._resolve_channel(str(params.get("channel", ""))), str(params.get("ts"))
        parent = self.messages.get(ts)
        if parent is None or parent["channel"] != channel:
            return {"ok": False, "error": "thread_not_found"}
        thread = [m for m in self.messages.values() if m.get("thread_ts") == ts and m["ts"] != ts]
        ordered = [parent, *sorted(thread, key=lambda m: float(m["ts"]))]
        return {"ok": True, "messages": [self._listed(m, params) for m in ordered], "has_more": False,
                "response_metadata": {"next_cursor": ""}}  # fmt: skip

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        """A channel's top-level messages newest first, from ``oldest`` on (one page, like replies)."""
        channel = self._resolve_channel(str(params.get("channel", "")))
        oldest = float(params.get("oldest") or 0)
        found = [
            m for m in self.messages.values()
            if m["channel"] == channel and m.get("thread_ts", m["ts"]) == m["ts"] and float(m["ts"]) >= oldest
        ]  # fmt: skip
        ordered = sorted(found, key=lambda m: float(m["ts"]), reverse=True)
        return {"ok": True, "messages": [self._listed(m, params) for m in ordered], "has_more": False,
                "response_metadata": {"next_cursor": ""}}  # fmt: skip

    def _listed(self, msg: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """A message in a listing: with its metadata only when asked (``include_all_metadata``)."""
        public = self.public(msg)
        if msg.get("metadata") and str(params.get("include_all_metadata", "")).lower() in ("1", "true"):
            public["metadata"] = copy.deepcopy(msg["metadata"])
        return public

    def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if str(params.get("user")) not in self.users:
            return {"ok": False, "error": "user_not_in_channel"}
        if not (params.get("text") or params.get("blocks")):
            return {"ok": False, "error": "no_text"}
        ts = self.new_ts()
        self.ephemerals.append({
            "channel": self._resolve_channel(str(params["channel"])),
            "user": str(params["user"]),
            "text": params.get("text", ""),
            "blocks": params.get("blocks") or [],
            "thread_ts": params.get("thread_ts"),
            "message_ts": ts,
        })  # fmt: skip
        return {"ok": True, "message_ts": ts}

    def _usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self.usergroups.get(str(params.get("usergroup")))
        if group is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(group["users"])}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": copy.deepcopy(user)}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        if not params.get("trigger_id") or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        view_id = f"V{next(self.sequence):08d}"
        self.views.append({"id": view_id, "trigger_id": params["trigger_id"], "view": copy.deepcopy(view)})
        return {"ok": True, "view": {"id": view_id, "team_id": self.team_id, **copy.deepcopy(view)}}

    # ------------------------------------------------------------------ App Home (views.publish)

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        """A user's Home tab: Slack keeps the latest view per user (at most 100 blocks)."""
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        user = str(params.get("user_id") or "")
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        if len(view.get("blocks") or []) > 100:
            return {"ok": False, "error": "invalid_blocks"}
        view_id = self.home_views.get(user, {}).get("id") or f"V{next(self.sequence):08d}"
        self.home_views[user] = {"id": view_id, **copy.deepcopy(view)}
        return {"ok": True, "view": {"id": view_id, "team_id": self.team_id, "hash": self.new_ts(),
                                     **copy.deepcopy(view)}}  # fmt: skip

    def _resolve_channel(self, channel: str) -> str:
        name = channel.lstrip("#")
        return next((cid for cid, cname in self.channels.items() if cname == name), channel)


def _with_block_ids(blocks: Any) -> Any:
    """Slack gives every block without a `block_id` a random one; interactivity payloads carry it."""
    if not isinstance(blocks, list):
        return blocks
    return [
        {**b, "block_id": uuid.uuid4().hex[:5]} if isinstance(b, dict) and "block_id" not in b else b
        for b in blocks
    ]


# ------------------------------------------------------------------ rate limits (chat.postMessage)


class PostRateLimit:
    """Slack's per-channel limit on ``chat.postMessage``: about one a second, short bursts allowed.

    A token bucket per channel (``burst`` tokens, refilled at ``per_second``); a post finding it
    empty is answered HTTP 429 with ``Retry-After`` in whole seconds, as Slack does. Every
    attempt and every 429 is logged with its time, so a test can check that the client waited
    as long as it was told to. Used with the fake's lock held.
    """

    def __init__(self, per_second: float = 1.0, burst: int = 3, clock: Any = None) -> None:
        self.per_second = per_second
        self.burst = burst
        self.clock = clock or time.monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, last refill)
        self.attempts: list[tuple[str, float]] = []  # (channel, at) of every chat.postMessage
        self.limited: list[tuple[str, float, int]] = []  # (channel, at, retry_after) of every 429

    def take(self, channel: str) -> int | None:
        """None if the post may go now (a token is used), else the ``Retry-After`` seconds."""
        now = self.clock()
        tokens, last = self._buckets.get(channel, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.per_second)
        self.attempts.append((channel, now))
        if tokens >= 1.0:
            self._buckets[channel] = (tokens - 1.0, now)
            return None
        self._buckets[channel] = (tokens, now)
        retry_after = max(1, math.ceil((1.0 - tokens) / self.per_second))
        self.limited.append((channel, now, retry_after))
        return retry_after
