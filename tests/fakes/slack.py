"""A fake Slack workspace that speaks Slack's real HTTP protocol on 127.0.0.1.

Why a server and not a mock: the bot talks to Slack through the real `slack_sdk` / Bolt clients
(pointed here by `base_url=fake.api_url`), and Slack talks to the bot through signed Events API
and interactivity requests. Exercising both directions over real HTTP catches what mocks hide:
wrong content types, unsigned or mis-signed requests, missing tokens, retries and rate limits.

The server runs on its own event loop in a background thread, so sync tests, async tests and
other processes (a bot under test in a subprocess) can all use it. All recorded state is guarded
by a lock and every query helper returns deep copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from aiohttp import web

from tests.fakes.server import ThreadedServer

T = TypeVar("T")

#: Message fields Slack echoes back as posted; kept on the recorded message so tests can assert them.
_MESSAGE_OPTIONS = (
    "unfurl_links",
    "unfurl_media",
    "mrkdwn",
    "reply_broadcast",
    "attachments",
    "metadata",
    "username",
    "icon_emoji",
    "icon_url",
)
_BOOL_PARAMS = {"unfurl_links", "unfurl_media", "mrkdwn", "reply_broadcast", "as_user", "link_names"}
_JSON_PARAMS = {"blocks", "attachments", "view", "metadata"}
#: Bookkeeping keys on recorded messages that real Slack does not return inside `message`.
_PRIVATE_KEYS = {"channel", "history", *(k for k in _MESSAGE_OPTIONS if k not in ("attachments", "metadata"))}
_FAULT_ERRORS = {429: "ratelimited", 500: "fatal_error", 503: "service_unavailable"}


class ApiCall(NamedTuple):
    """One Web API request as the fake saw it (failed and rejected ones included)."""

    method: str
    status: int
    params: dict[str, Any]


class Delivery(NamedTuple):
    """One signed request the fake sent into the app, for failure reports."""

    kind: str
    url: str
    status: int
    body: str


class _Fault:
    def __init__(self, status: int, times: int, retry_after: int, error: str | None) -> None:
        self.status = status
        self.remaining = times
        self.retry_after = retry_after
        self.error = error


def sign(signing_secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 request signature: HMAC-SHA256 over `v0:{timestamp}:{raw body}`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def rich_text_blocks(text: str) -> list[dict[str, Any]]:
    """The `rich_text` block Slack's clients attach to every message a human types."""
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:5],
            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
        }
    ]


class FakeSlack(ThreadedServer):
    """A Slack workspace with one bot, served over real HTTP; see the module docstring."""

    def __init__(
        self,
        port: int = 0,
        *,
        bot_token: str = "xoxb-fake-token",
        signing_secret: str = "fake-signing-secret",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        team_id: str = "T0001",
        api_app_id: str = "A0001",
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host, port)
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.team_domain = "fake-workspace"
        self.bot_name = "supportbot"
        self.verification_token = "fake-verification-token"

        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, str] = {}
        self.reset()

    # ------------------------------------------------------------------ lifecycle

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response_url/{token}", self._handle_response_url)
        return app

    @property
    def api_url(self) -> str:
        """The Web API root for `slack_sdk` clients: `WebClient(base_url=fake.api_url)`."""
        return f"{self.base_url}/api/"

    # ------------------------------------------------------------------ test setup

    def reset(self) -> None:
        """Forget messages, calls, views, faults and deliveries (users and channels stay)."""
        with self._lock:
            self._messages: dict[str, dict[str, Any]] = {}
            self._calls: list[ApiCall] = []
            self._views: list[dict[str, Any]] = []
            self._responses: list[dict[str, Any]] = []
            self._response_urls: dict[str, tuple[str, str]] = {}
            self._deliveries: list[Delivery] = []
            self._faults: dict[str, _Fault] = {}
            self._down = False
            self._users.setdefault(
                self.bot_user_id,
                self._user_record(self.bot_user_id, "Support Bot", "", name=self.bot_name, is_bot=True),
            )

    def add_user(self, user_id: str, real_name: str, display_name: str | None = None) -> None:
        """Make `users.info` know a human; Slack reports an unset display name as ""."""
        name = (display_name or real_name).lower().replace(" ", ".")
        with self._lock:
            self._users[user_id] = self._user_record(user_id, real_name, display_name or "", name=name)

    def add_channel(self, channel_id: str, name: str) -> None:
        """Name a channel, so `#name` resolves and payloads carry the name (any id works without)."""
        with self._lock:
            self._channels[channel_id] = name

    def fail(
        self,
        method: str,
        status: int = 429,
        times: int = 1,
        retry_after: int = 1,
        error: str | None = None,
    ) -> None:
        """Make the next `times` calls of `method` fail with HTTP `status`.

        429 carries `Retry-After: retry_after` and `{"ok": false, "error": "ratelimited"}`.
        With `status=200` and `error="..."` the call gets a normal Slack API error instead.
        """
        if status == 200 and not error:
            raise ValueError(
                "status=200 needs error=, e.g. fail('chat.postMessage', 200, error='is_archived')"
            )
        with self._lock:
            self._faults[method] = _Fault(status, times, retry_after, error)

    def set_down(self, down: bool = True) -> None:
        """While down, every Web API call answers 503 (an outage, not a per-method fault)."""
        with self._lock:
            self._down = down

    # ------------------------------------------------------------------ queries

    @property
    def calls(self) -> list[ApiCall]:
        """Every Web API request so far as `(method, status, params)`, failures included."""
        with self._lock:
            return copy.deepcopy(self._calls)

    def api_calls(self, method: str | None = None) -> list[ApiCall]:
        """The recorded calls of one method (all calls if None)."""
        return [c for c in self.calls if method is None or c.method == method]

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Top-level messages (not thread replies), oldest first, optionally for one channel."""
        with self._lock:
            found = [
                m
                for m in self._messages.values()
                if m.get("thread_ts", m["ts"]) == m["ts"] and (channel is None or m["channel"] == channel)
            ]
            return copy.deepcopy(sorted(found, key=lambda m: float(m["ts"])))

    def replies(self, thread_ts: str) -> list[dict[str, Any]]:
        """Replies in one thread (bot and human), oldest first, without the parent."""
        with self._lock:
            found = [m for m in self._messages.values() if m.get("thread_ts") == thread_ts != m["ts"]]
            return copy.deepcopy(sorted(found, key=lambda m: float(m["ts"])))

    def message(self, ts: str) -> dict[str, Any] | None:
        """One message by ts (keys: channel, ts, text, blocks, user, thread_ts?, history, reactions...)."""
        with self._lock:
            return copy.deepcopy(self._messages.get(ts))

    def views(self) -> list[dict[str, Any]]:
        """Modals opened with `views.open`: `{"id", "trigger_id", "view"}`."""
        with self._lock:
            return copy.deepcopy(self._views)

    def responses(self) -> list[dict[str, Any]]:
        """Bodies the app POSTed to `response_url`s, as `{"response_url", "payload"}`."""
        with self._lock:
            return copy.deepcopy(self._responses)

    def deliveries(self) -> list[Delivery]:
        """Signed requests sent into the app and how it answered."""
        with self._lock:
            return list(self._deliveries)

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10, interval: float = 0.02) -> T:
        """Poll `predicate()` until truthy and return it; on timeout fail with the recorded state.

        Blocks the calling thread: from an async test whose loop runs the app, use `wait_for_async`.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise AssertionError(f"condition not met within {timeout} s\n{self.describe()}")
            time.sleep(interval)

    async def wait_for_async(
        self, predicate: Callable[[], T], timeout: float = 10, interval: float = 0.02
    ) -> T:
        """`wait_for` that yields to the caller's event loop between polls."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise AssertionError(f"condition not met within {timeout} s\n{self.describe()}")
            await asyncio.sleep(interval)

    def describe(self) -> str:
        """Human-readable dump of messages, API calls and deliveries, for assertion messages."""
        with self._lock:
            messages = sorted(self._messages.values(), key=lambda m: float(m["ts"]))
            calls = list(self._calls)
            deliveries = list(self._deliveries)
        lines = [f"FakeSlack state ({len(messages)} messages, {len(calls)} API calls):"]
        for m in messages:
            is_reply = m.get("thread_ts", m["ts"]) != m["ts"]
            where = f"{m['channel']} thread {m['thread_ts']}" if is_reply else m["channel"]
            who = f"bot {m['bot_id']}" if m.get("bot_id") else f"user {m.get('user')}"
            edits = f" (edited {len(m['history'])}x)" if m.get("history") else ""
            lines.append(f"  msg {m['ts']} in {where} by {who}{edits}: {str(m.get('text'))[:120]!r}")
        for c in calls[-30:]:
            lines.append(f"  call {c.method} -> {c.status} {json.dumps(c.params, default=str)[:160]}")
        for d in deliveries[-20:]:
            lines.append(f"  sent {d.kind} to {d.url} -> {d.status} {d.body[:120]!r}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ Slack -> app

    def send_event(
        self,
        url: str,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | str | None = None,
        signing_secret: str | None = None,
        timeout: float = 10,
    ) -> tuple[int, str]:
        """POST `event` in an `event_callback` envelope, signed like Slack; returns (status, body).

        `retry_num` adds Slack's retry headers; `timestamp` / `signing_secret` let tests send
        stale or forged requests. Synchronous: from async code use `asyncio.to_thread`.
        """
        envelope = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or self.new_event_id(),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + uuid.uuid4().hex,
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return self._send_signed(
            f"event {event.get('type')}",
            url,
            _compact(envelope).encode(),
            "application/json",
            headers=headers,
            timestamp=timestamp,
            signing_secret=signing_secret,
            timeout=timeout,
        )

    def url_verification(self, url: str, challenge: str, **kw: Any) -> tuple[int, str]:
        """The handshake Slack sends when the Events API request URL is saved."""
        body = {"token": self.verification_token, "challenge": challenge, "type": "url_verification"}
        return self._send_signed("url_verification", url, _compact(body).encode(), "application/json", **kw)

    def post_thread_reply(
        self, url: str, channel: str, thread_ts: str, user: str, text: str, **kw: Any
    ) -> tuple[int, str, dict[str, Any]]:
        """A human replies in a thread: record it like Slack would, then deliver the `message` event.

        Returns (status, body, event); the new message's ts is `event["ts"]`. `kw` goes to `send_event`.
        """
        ts = self.new_ts()
        event: dict[str, Any] = {
            "client_msg_id": str(uuid.uuid4()),
            "type": "message",
            "text": text,
            "user": user,
            "ts": ts,
            "blocks": rich_text_blocks(text),
            "team": self.team_id,
            "thread_ts": thread_ts,
            "channel": channel,
            "event_ts": ts,
            "channel_type": "channel",
        }
        with self._lock:
            parent = self._messages.get(thread_ts)
            if parent is not None:
                event["parent_user_id"] = parent.get("user")
            record = {k: v for k, v in event.items() if k not in ("event_ts", "channel_type")}
            self._messages[ts] = {**copy.deepcopy(record), "history": [], "reactions": []}
        status, body = self.send_event(url, event, **kw)
        return status, body, event

    def bot_message_event(self, ts: str, *, subtype: str | None = None) -> dict[str, Any]:
        """The `message` event Slack would send for the bot's own post `ts` (to test echo suppression).

        Modern apps' posts carry `bot_id` + `user` and no subtype; pass `subtype="bot_message"`
        for the legacy shape.
        """
        msg = self.message(ts)
        if msg is None:
            raise KeyError(f"no message with ts {ts}\n{self.describe()}")
        event: dict[str, Any] = {
            "type": "message",
            "text": msg.get("text", ""),
            "user": self.bot_user_id,
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": self.api_app_id,
            "blocks": msg.get("blocks", []),
            "team": self.team_id,
            "bot_profile": self._bot_profile(),
            "channel": msg["channel"],
            "event_ts": ts,
            "channel_type": "channel",
        }
        if msg.get("thread_ts"):
            event["thread_ts"] = msg["thread_ts"]
            if msg["thread_ts"] != ts:
                parent = self.message(msg["thread_ts"])
                event["parent_user_id"] = (parent or {}).get("user", self.bot_user_id)
        if subtype:
            event["subtype"] = subtype
        return event

    def click_button(
        self,
        url: str,
        action_id: str,
        value: str,
        user: str,
        channel: str,
        message_ts: str,
        *,
        trigger_id: str | None = None,
        block_id: str | None = None,
        **kw: Any,
    ) -> tuple[int, str]:
        """A user clicks a button on a recorded message: signed `block_actions` form POST.

        The button must exist in the message's blocks (so a wrong action_id fails loudly) unless
        `block_id` is given. `response_url` points back at this fake; see `responses()`.
        `kw` goes to the signed sender (`timestamp`, `signing_secret`, `timeout`).
        """
        msg = self.message(message_ts)
        if msg is None:
            raise KeyError(f"no message with ts {message_ts} to click on\n{self.describe()}")
        button = _find_element(msg.get("blocks") or [], action_id)
        if button is None and block_id is None:
            raise ValueError(f"message {message_ts} has no element with action_id {action_id!r}: {msg}")
        found_block_id, element = button or (block_id, {})
        with self._lock:
            user_record = self._users.get(user, {})
            channel_name = self._channels.get(channel, channel.lower())
            token = uuid.uuid4().hex
            self._response_urls[token] = (channel, message_ts)
        public = {k: v for k, v in msg.items() if k not in _PRIVATE_KEYS and k != "reactions"}
        action_ts = f"{time.time():.6f}"
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id or found_block_id,
            "text": element.get("text", {"type": "plain_text", "text": value, "emoji": True}),
            "value": value,
            "type": element.get("type", "button"),
            "action_ts": action_ts,
        }
        if "style" in element:
            action["style"] = element["style"]
        payload = {
            "type": "block_actions",
            "user": {
                "id": user,
                "username": user_record.get("name", user.lower()),
                "name": user_record.get("name", user.lower()),
                "team_id": self.team_id,
            },
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": trigger_id or self.new_trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": channel_name},
            "message": public,
            "state": {"values": {}},
            "response_url": f"{self.base_url}/response_url/{token}",
            "actions": [action],
        }
        body = urllib.parse.urlencode({"payload": _compact(payload)}).encode()
        return self._send_signed(
            f"block_actions {action_id}", url, body, "application/x-www-form-urlencoded", **kw
        )

    # ------------------------------------------------------------------ id generators

    def new_ts(self) -> str:
        """A unique, increasing message ts such as `1700000000.000100`."""
        n = next(self._seq)
        return f"{1_700_000_000 + n // 10_000}.{n % 10_000 * 100:06d}"

    def new_event_id(self) -> str:
        return f"Ev{next(self._seq):06d}{uuid.uuid4().hex[:4].upper()}"

    def new_trigger_id(self) -> str:
        return f"{next(self._seq)}.{int(time.time())}.{uuid.uuid4().hex}"

    # ------------------------------------------------------------------ internals: sending

    def _send_signed(
        self,
        kind: str,
        url: str,
        body: bytes,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        timestamp: int | str | None = None,
        signing_secret: str | None = None,
        timeout: float = 10,
    ) -> tuple[int, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        request = urllib.request.Request(url, data=body, method="POST")
        request.add_header("Content-Type", content_type)
        request.add_header("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
        request.add_header("X-Slack-Request-Timestamp", ts)
        request.add_header("X-Slack-Signature", sign(signing_secret or self.signing_secret, ts, body))
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8", "replace")
        with self._lock:
            self._deliveries.append(Delivery(kind, url, status, text))
        return status, text

    # ------------------------------------------------------------------ internals: Web API

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _read_params(request)
        token = _bearer(request.headers.get("Authorization", "")) or params.get("token")
        params.pop("token", None)

        with self._lock:
            fault = self._take_fault(method)
            if fault is not None:
                status, body, headers = fault
                self._calls.append(ApiCall(method, status, params))
                return web.json_response(body, status=status, headers=headers)
            if not token:
                body = {"ok": False, "error": "not_authed"}
            elif token != self.bot_token:
                body = {"ok": False, "error": "invalid_auth"}
            else:
                handler = getattr(self, "_api_" + method.replace(".", "_"), None)
                unknown = {"ok": False, "error": "unknown_method", "req_method": method}
                body = handler(params) if handler else unknown
            self._calls.append(ApiCall(method, 200, params))
        return web.json_response(body)

    def _take_fault(self, method: str) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """Called with the lock held; consumes one injected failure if any applies."""
        if self._down:
            return 503, {"ok": False, "error": "service_unavailable"}, {}
        fault = self._faults.get(method)
        if fault is None or fault.remaining <= 0:
            return None
        fault.remaining -= 1
        if fault.status == 200:
            return 200, {"ok": False, "error": fault.error}, {}
        headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
        error = fault.error or _FAULT_ERRORS.get(fault.status, "fatal_error")
        return fault.status, {"ok": False, "error": error}, headers

    def _resolve_channel(self, channel: str) -> str:
        name = channel.lstrip("#")
        for channel_id, channel_name in self._channels.items():
            if channel_name == name:
                return channel_id
        return channel

    def _bot_profile(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "app_id": self.api_app_id,
            "name": self.bot_name,
            "deleted": False,
            "team_id": self.team_id,
        }

    def _user_record(
        self, user_id: str, real_name: str, display_name: str, *, name: str, is_bot: bool = False
    ) -> dict[str, Any]:
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": real_name,
            "tz": "Europe/Berlin",
            "is_bot": is_bot,
            "profile": {
                "real_name": real_name,
                "real_name_normalized": real_name,
                "display_name": display_name,
                "display_name_normalized": display_name,
                **({"bot_id": self.bot_id} if is_bot else {}),
            },
        }

    @staticmethod
    def _public(msg: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy({k: v for k, v in msg.items() if k not in _PRIVATE_KEYS and k != "reactions"})

    # Handlers below run with self._lock held and return the JSON body (always HTTP 200).

    def _api_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Fake Workspace",
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
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
            "bot_profile": self._bot_profile(),
        }
        thread_ts = params.get("thread_ts")
        if thread_ts:
            parent = self._messages.get(str(thread_ts))
            if parent is not None and parent.get("thread_ts"):  # replying to a reply joins its thread
                thread_ts = parent["thread_ts"]
                parent = self._messages.get(thread_ts)
            msg["thread_ts"] = str(thread_ts)
            if parent is not None:
                msg["parent_user_id"] = parent.get("user")
        for option in _MESSAGE_OPTIONS:
            if option in params:
                msg[option] = params[option]
        self._messages[ts] = {**msg, "history": [], "reactions": []}
        return {"ok": True, "channel": channel, "ts": ts, "message": self._public(msg)}

    def _api_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not (params.get("text") or "blocks" in params or "attachments" in params):
            return {"ok": False, "error": "no_text"}
        msg = self._messages.get(str(params.get("ts")))
        if msg is None or msg["channel"] != self._resolve_channel(str(params["channel"])):
            return {"ok": False, "error": "message_not_found"}
        if msg.get("bot_id") != self.bot_id:
            return {"ok": False, "error": "cant_update_message"}
        msg["history"].append({"text": msg.get("text"), "blocks": copy.deepcopy(msg.get("blocks"))})
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                msg[key] = _with_block_ids(params[key]) if key == "blocks" else params[key]
        msg["edited"] = {"user": self.bot_user_id, "ts": self.new_ts()}
        return {
            "ok": True,
            "channel": msg["channel"],
            "ts": msg["ts"],
            "text": msg.get("text", ""),
            "message": self._public(msg),
        }

    def _api_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(params.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": copy.deepcopy(user)}

    def _api_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        channel = self._resolve_channel(str(params["channel"]))
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": self._channels.get(channel, channel.lower()),
                "is_channel": True,
                "is_private": False,
                "is_archived": False,
                "is_member": True,
                "created": 1_700_000_000,
            },
        }

    def _api_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        if not params.get("trigger_id") or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        view_id = f"V{next(self._seq):08d}"
        self._views.append({"id": view_id, "trigger_id": params["trigger_id"], "view": copy.deepcopy(view)})
        opened = {
            "id": view_id,
            "team_id": self.team_id,
            "state": {"values": {}},
            "hash": uuid.uuid4().hex[:16],
            "app_id": self.api_app_id,
            "bot_id": self.bot_id,
            **copy.deepcopy(view),
        }
        return {"ok": True, "view": opened}

    def _api_reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("name")
        msg = self._messages.get(str(params.get("timestamp")))
        if not name:
            return {"ok": False, "error": "invalid_name"}
        if msg is None or msg["channel"] != self._resolve_channel(str(params.get("channel", ""))):
            return {"ok": False, "error": "message_not_found"}
        reaction = next((r for r in msg["reactions"] if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            msg["reactions"].append(reaction)
        if self.bot_user_id in reaction["users"]:
            return {"ok": False, "error": "already_reacted"}
        reaction["users"].append(self.bot_user_id)
        reaction["count"] += 1
        return {"ok": True}

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        """What Slack does with a POST to an interaction's response_url."""
        token = request.match_info["token"]
        try:
            payload = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.Response(status=400, text="invalid_payload")
        with self._lock:
            target = self._response_urls.get(token)
            if target is None:
                return web.Response(status=404, text="no_active_hooks")
            # request.url is unusable here: aiohttp 3.9 + this yarl reject "host:port" in URL.build.
            self._responses.append({"response_url": self.base_url + request.path, "payload": payload})
            msg = self._messages.get(target[1])
            if msg is not None and payload.get("delete_original"):
                del self._messages[target[1]]
            elif msg is not None and payload.get("replace_original"):
                msg["history"].append({"text": msg.get("text"), "blocks": copy.deepcopy(msg.get("blocks"))})
                msg["text"] = payload.get("text", "")
                msg["blocks"] = _with_block_ids(payload.get("blocks", []))
        return web.Response(text="ok")


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Merge query string and body the way Slack does: form, multipart or JSON, blocks maybe as a string."""
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        else:
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    for key in _JSON_PARAMS & params.keys():
        if isinstance(params[key], str):
            with contextlib.suppress(json.JSONDecodeError):
                params[key] = json.loads(params[key])
    for key in _BOOL_PARAMS & params.keys():
        if isinstance(params[key], str):
            params[key] = params[key].lower() in ("true", "1")
    return params


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def _with_block_ids(blocks: Any) -> Any:
    """Slack gives every block without a `block_id` a random one; interactivity payloads carry it."""
    if not isinstance(blocks, list):
        return blocks
    return [
        {**b, "block_id": uuid.uuid4().hex[:5]} if isinstance(b, dict) and "block_id" not in b else b
        for b in blocks
    ]


def _find_element(blocks: list[dict[str, Any]], action_id: str) -> tuple[str, dict[str, Any]] | None:
    """(block_id, element) of the interactive element with `action_id` in `actions`/`section` blocks."""
    for block in blocks:
        candidates = [*block.get("elements", []), block.get("accessory") or {}]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id", ""), element
    return None


def _compact(value: Any) -> str:
    """JSON the way Slack sends it (no spaces)."""
    return json.dumps(value, separators=(",", ":"))
