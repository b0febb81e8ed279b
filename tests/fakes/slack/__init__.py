"""A fake Slack workspace that speaks Slack's real HTTP protocol on 127.0.0.1.

Why a server and not a mock: the relay talks to Slack through the real `slack_sdk` / Bolt clients
(pointed here by `SLACK_API_URL`), and Slack talks to the relay through signed Events API and
interactivity requests. Exercising both directions over real HTTP catches what mocks hide:
wrong content types, unsigned or mis-signed requests, missing tokens, retries and rate limits.

The parts: ``web_api`` (the methods the relay calls, over the recorded messages),
``socket_mode`` (``apps.connections.open`` and the Socket Mode WebSocket), ``interactions``
(App Home, shortcuts, slash commands, modals, ephemeral clicks), ``platform_limits`` (the
posting rate, call counts, Slack's own metadata events) and this module (HTTP, test setup and
queries, and what Slack sends the relay: events and card clicks). With
``FakeSlack(socket_mode=True)`` events and clicks go to the app's Socket Mode connection as
acknowledged envelopes instead of signed POSTs to ``url`` (which is then ignored); the
``(status, body)`` a test gets back is (200, the ack) or (408/503, why there was none).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import queue
import threading
import time
import urllib.parse
import uuid
from typing import Any

from aiohttp import web

from tests.fakes.server import Call, Delivery, FakeService, compact
from tests.fakes.slack.interactions import Interactions, find_element
from tests.fakes.slack.platform_limits import PlatformLimits
from tests.fakes.slack.socket_mode import SocketMode
from tests.fakes.slack.web_api import PostRateLimit, Workspace

__all__ = ["FakeSlack", "sign"]

#: What Slack answers an injected HTTP failure with.
_FAULT_ERRORS = {429: "ratelimited", 500: "fatal_error", 503: "service_unavailable"}


def sign(signing_secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 request signature: HMAC-SHA256 over `v0:{timestamp}:{raw body}`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


class FakeSlack(Interactions, PlatformLimits, FakeService):
    """A Slack workspace with one bot, served over real HTTP; see the module docstring."""

    user_agent = "Slackbot 1.0 (+https://api.slack.com/robots)"
    bot_token = "xoxb-fake-token"
    signing_secret = "fake-signing-secret"
    app_token = "xapp-1-A0001-1-fake-app-token"
    bot_user_id = Workspace.bot_user_id
    bot_id = Workspace.bot_id
    team_id = Workspace.team_id
    api_app_id = Workspace.api_app_id

    def __init__(
        self, port: int = 0, host: str = "127.0.0.1", *, socket_mode: bool = False, rate_limit: bool = False
    ) -> None:
        super().__init__(host, port)
        self.workspace = Workspace()
        # Rate limits and metadata events (see that section): off / not subscribed by default.
        self.rate_limit: PostRateLimit | None = PostRateLimit() if rate_limit else None
        self.events_url: str | None = None
        self.metadata_events: bool | None = None  # None: on when the fake knows the app (url or socket)
        self._event_queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._event_thread: threading.Thread | None = None
        self._lost_answers: dict[str, int] = {}
        self.socket_mode = socket_mode
        self.socket = SocketMode(
            self._lock, self.api_app_id, self.app_token, lambda: "ws" + self.base_url[4:], lambda: self._loop
        )

    def lose_answers(self, method: str, times: int = 1) -> None:
        """Carry out the next ``times`` calls of ``method`` but answer 500, as if the reply was lost."""
        with self._lock:
            self._lost_answers[method] = times

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_get("/link/", self.socket.handle_ws)
        return app

    @property
    def api_url(self) -> str:
        """The Web API root for `slack_sdk` clients: `WebClient(base_url=fake.api_url)`."""
        return f"{self.base_url}/api/"

    # ------------------------------------------------------------------ test setup

    def add_user(
        self,
        user_id: str,
        real_name: str,
        display_name: str | None = None,
        *,
        team_id: str | None = None,
        guest: str | None = None,
        deleted: bool = False,
    ) -> None:
        """Make `users.info` know a human; Slack reports an unset display name as "".

        `team_id`: another organisation's member (Slack Connect); `guest`: "multi" or "single"
        (channel guest); events and clicks from the user then carry what Slack would send.
        """
        name = (display_name or real_name).lower().replace(" ", ".")
        with self._lock:
            self.workspace.add_user(
                user_id, real_name, display_name or "", name, team_id=team_id, guest=guest, deleted=deleted
            )

    def add_usergroup(self, group_id: str, handle: str, members: list[str]) -> None:
        """A user group (`S…`) that `usergroups.users.list` answers with `members`."""
        with self._lock:
            self.workspace.add_usergroup(group_id, handle, list(members))

    def add_channel(self, channel_id: str, name: str) -> None:
        """Name a channel, so `#name` resolves and payloads carry the name (any id works without)."""
        with self._lock:
            self.workspace.channels[channel_id] = name

    def new_ts(self) -> str:
        """A unique, increasing message ts such as `1700000000.000100`."""
        with self._lock:
            return self.workspace.new_ts()

    # ------------------------------------------------------------------ queries

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Top-level messages (not thread replies), oldest first, optionally for one channel."""
        with self._lock:
            found = [
                m
                for m in self.workspace.messages.values()
                if m.get("thread_ts", m["ts"]) == m["ts"] and channel in (None, m["channel"])
            ]
            return copy.deepcopy(sorted(found, key=lambda m: float(m["ts"])))

    def replies(self, thread_ts: str) -> list[dict[str, Any]]:
        """Replies in one thread (bot and human), oldest first, without the parent."""
        with self._lock:
            found = [
                m for m in self.workspace.messages.values() if m.get("thread_ts") == thread_ts != m["ts"]
            ]
            return copy.deepcopy(sorted(found, key=lambda m: float(m["ts"])))

    def all_messages(self) -> list[dict[str, Any]]:
        """Every message the workspace still holds (cards, replies, orphans of a deleted card)."""
        with self._lock:
            return copy.deepcopy(sorted(self.workspace.messages.values(), key=lambda m: float(m["ts"])))

    def message(self, ts: str) -> dict[str, Any] | None:
        """One message by ts (keys: channel, ts, text, blocks, user, thread_ts?, history…)."""
        with self._lock:
            return copy.deepcopy(self.workspace.messages.get(ts))

    def ephemerals(self, user: str | None = None) -> list[dict[str, Any]]:
        """Messages posted with `chat.postEphemeral` (only `user` sees them), oldest first."""
        with self._lock:
            return copy.deepcopy([e for e in self.workspace.ephemerals if user in (None, e["user"])])

    def views(self) -> list[dict[str, Any]]:
        """Modals opened with `views.open`: `{"id", "trigger_id", "view"}`."""
        with self._lock:
            return copy.deepcopy(self.workspace.views)

    def describe_state(self) -> list[str]:
        with self._lock:
            messages = sorted(self.workspace.messages.values(), key=lambda m: float(m["ts"]))
        lines = [f"  {len(messages)} messages:"]
        for m in messages:
            is_reply = m.get("thread_ts", m["ts"]) != m["ts"]
            where = f"{m['channel']} thread {m['thread_ts']}" if is_reply else m["channel"]
            who = f"bot {m['bot_id']}" if m.get("bot_id") else f"user {m.get('user')}"
            edits = f" (edited {len(m['history'])}x)" if m.get("history") else ""
            lines.append(f"  msg {m['ts']} in {where} by {who}{edits}: {str(m.get('text'))[:120]!r}")
        for e in self.ephemerals():
            lines.append(f"  ephemeral to {e['user']} in {e['channel']}: {str(e.get('text'))[:120]!r}")
        return lines + self.socket.describe_state()

    # ------------------------------------------------------------------ Slack -> the relay

    def send_event(
        self,
        url: str,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
        team_id: str | None = None,
    ) -> tuple[int, str]:
        """POST `event` in an `event_callback` envelope, signed like Slack; returns (status, body).

        `retry_num` adds Slack's retry headers; `timestamp` / `signing_secret` let tests send
        stale or forged requests; `team_id` sends it as another workspace's installation would.
        An event from another organisation's user is marked as from a shared channel, as Slack does.
        """
        team = team_id or self.team_id
        envelope = {
            "token": "fake-verification-token",
            "team_id": team,
            "context_team_id": team,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {"team_id": team, "user_id": self.bot_user_id, "is_bot": True, "is_enterprise_install": False}
            ],
            "is_ext_shared_channel": event.get("user_team", team) != team,
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        body, kind = compact(envelope), f"event {event.get('type')}"
        if self.socket_mode:  # Socket Mode: no signature; the connection is the app token's
            return self._over_socket(kind, "events_api", envelope, retry_attempt=retry_num or 0)
        return self._send_signed(kind, url, body, "application/json", headers, timestamp, signing_secret)

    def post_thread_reply(
        self, url: str, channel: str, thread_ts: str, user: str, text: str, **kw: Any
    ) -> tuple[int, str, dict[str, Any]]:
        """A human replies in a thread: record it like Slack would, then deliver the `message` event.

        Returns (status, body, event); `kw` goes to `send_event` (`timestamp`, `signing_secret`,
        `team_id`). A user of another organisation writes as in a Slack Connect channel: the
        event carries their team (`team`, `user_team`, `source_team`) and their `user_profile`.
        """
        with self._lock:
            ts = self.workspace.new_ts()
            team = self.workspace.user_team(user)
            event: dict[str, Any] = {
                "client_msg_id": str(uuid.uuid4()),
                "type": "message",
                "text": text,
                "user": user,
                "ts": ts,
                "team": team,
                "thread_ts": thread_ts,
                "channel": channel,
                "event_ts": ts,
                "channel_type": "channel",
            }
            if team != self.team_id:
                known = self.workspace.users.get(user, {})
                event.update(user_team=team, source_team=team)
                event["user_profile"] = {
                    "real_name": known.get("real_name", user),
                    "display_name": (known.get("profile") or {}).get("display_name", ""),
                    "name": known.get("name", user.lower()),
                    "team": team,
                    "is_restricted": known.get("is_restricted", False),
                    "is_ultra_restricted": known.get("is_ultra_restricted", False),
                }
            parent = self.workspace.messages.get(thread_ts)
            if parent is not None:
                event["parent_user_id"] = parent.get("user")
            record = {k: v for k, v in event.items() if k not in ("event_ts", "channel_type")}
            self.workspace.messages[ts] = {**record, "history": []}
        status, body = self.send_event(url, event, **kw)
        return status, body, event

    def bot_message_event(self, ts: str) -> dict[str, Any]:
        """The `message` event Slack sends for the bot's own post `ts` (to test echo suppression)."""
        msg = self.message(ts)
        if msg is None:
            raise KeyError(f"no message with ts {ts}\n{self.describe()}")
        event = {
            "type": "message",
            "text": msg.get("text", ""),
            "user": self.bot_user_id,
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": self.api_app_id,
            "team": self.team_id,
            "channel": msg["channel"],
            "event_ts": ts,
            "channel_type": "channel",
        }
        if msg.get("thread_ts"):
            event["thread_ts"] = msg["thread_ts"]
        return event

    def click_button(
        self, url: str, action_id: str, value: str, user: str, channel: str, message_ts: str, **kw: Any
    ) -> tuple[int, str]:
        """A user clicks a button on a recorded message: signed `block_actions` form POST.

        The button must exist in the message's blocks, so a wrong action_id fails loudly.
        `kw`: `timestamp`, `signing_secret` (stale or forged requests), `team_id` (the payload's
        `team`, as from another workspace), `stale=True` (the user's client still shows the
        message as it was before its last update, with the buttons it had then); `user.team_id`
        is the user's own team.
        """
        team = kw.pop("team_id", None) or self.team_id
        msg = self.message(message_ts)
        if msg is None:
            raise KeyError(f"no message with ts {message_ts} to click on\n{self.describe()}")
        if kw.pop("stale", False) and msg.get("history"):
            msg = {**msg, **msg["history"][-1]}
        found = find_element(msg.get("blocks") or [], action_id)
        if found is None:
            raise ValueError(f"message {message_ts} has no element with action_id {action_id!r}: {msg}")
        block_id, element = found
        with self._lock:
            name = self.workspace.users.get(user, {}).get("name", user.lower())
            user_team = self.workspace.user_team(user)
            channel_name = self.workspace.channels.get(channel, channel.lower())
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": name, "name": name, "team_id": user_team},
            "api_app_id": self.api_app_id,
            "token": "fake-verification-token",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "trigger_id": f"{int(time.time())}.{uuid.uuid4().hex}",
            "team": {"id": team, "domain": "fake-workspace"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": channel_name},
            "message": Workspace.public(msg),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": element.get("text"),
                    "value": value,
                    "type": element.get("type", "button"),
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        if self.socket_mode:
            return self._over_socket(f"block_actions {action_id}", "interactive", payload)
        body = urllib.parse.urlencode({"payload": compact(payload).decode()}).encode()
        form = "application/x-www-form-urlencoded"
        return self._send_signed(f"block_actions {action_id}", url, body, form, {}, **kw)

    def _over_socket(self, kind: str, type_: str, payload: Any, retry_attempt: int = 0) -> tuple[int, str]:
        """Deliver over the Socket Mode connection and record it like an HTTP delivery."""
        status, text = self.socket.deliver(kind, type_, payload, retry_attempt=retry_attempt)
        with self._lock:
            self._deliveries.append(Delivery(kind, "socket-mode", status, text))
        return status, text

    def _send_signed(
        self,
        kind: str,
        url: str,
        body: bytes,
        content_type: str,
        headers: dict[str, str],
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> tuple[int, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signed = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign(signing_secret or self.signing_secret, ts, body),
            **headers,
        }
        return self.deliver(kind, url, body, signed)

    # ------------------------------------------------------------------ the relay -> Slack

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:  # slack_sdk sends JSON for chat.* and views.*, a form otherwise
            is_json = request.content_type == "application/json"
            params.update(await request.json() if is_json else dict(await request.post()))
        scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
        token = (bearer.strip() if scheme.lower() == "bearer" else "") or params.pop("token", None)
        with self._lock:
            fault = self._take_fault(method)
            if fault is not None:
                self._calls.append(Call(method, fault.status, params))
                error = {"ok": False, "error": _FAULT_ERRORS.get(fault.status, "fatal_error")}
                headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
                return web.json_response(error, status=fault.status, headers=headers)
            if method == "apps.connections.open":  # the one method for the app-level token
                body = self.socket.open_connection(token)
            elif token != self.bot_token:
                body = {"ok": False, "error": "invalid_auth" if token else "not_authed"}
            else:
                limited = self._rate_limited(method, params)  # see "rate limits and metadata events"
                if limited is not None:
                    return limited
                body = self.workspace.call(method, params)
                self._after_call(method, body)
            if self._lost_answers.get(method):  # done, but the caller never hears so (a crash, a cut line)
                self._lost_answers[method] -= 1
                self._calls.append(Call(method, 500, params))
                return web.json_response({"ok": False, "error": "fatal_error"}, status=500)
            self._calls.append(Call(method, 200, params))
        return web.json_response(body)
