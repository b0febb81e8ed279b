"""A fake X (Twitter) API v2 that speaks X's real HTTP protocol on 127.0.0.1.

Why a server and not a mock: our X channel talks to X through the real `tweepy.Client`
(`requests` under the hood, re-pointed here by a transport adapter that rewrites
`https://api.twitter.com` / `https://api.x.com` to `base_url`), and X talks to the channel through
signed Account Activity webhooks. Exercising both directions over real HTTP catches what mocks hide:
missing `user_auth`, forgotten `*.fields` / `expansions` (X omits fields nobody asked for), bad OAuth
1.0a signatures, pagination loops, rate limits and 5xx outages.

What is modelled, deliberately:

* Field selection: objects carry only X's default fields (tweets: id, text, edit_history_tweet_ids;
  DM events: id, event_type, text; users: id, name, username) plus what `tweet.fields`,
  `dm_event.fields`, `user.fields` ask for or `expansions` imply. `strict_fields=False` returns all.
* Auth: `Bearer <bearer_token>` is app-only and is refused (403) on user-context endpoints, as X does;
  `Bearer <oauth2_user_token>` and OAuth 1.0a (`OAuth ...`, with consumer key, access token and a valid
  HMAC-SHA1 signature over the `https://api.twitter.com` or `https://api.x.com` URL) are user context.
* Rate limits: every response carries `x-rate-limit-*` headers per endpoint (15-minute windows).
  They are only enforced after `rate_limit()` or with `enforce_rate_limits=True`, so a fast test
  poller does not trip over X's real (tiny) quotas by accident.
* Tweet length: weighted like twitter-text, approximately (see `tweet_length`).

The server runs on its own event loop in a background thread, so sync tests, async tests and
other processes can all use it. All recorded state is guarded by a lock and every query helper
returns deep copies.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import datetime
import hashlib
import hmac
import http
import itertools
import json
import math
import re
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

import requests
from aiohttp import web
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

from tests.fakes.server import ThreadedServer

T = TypeVar("T")

#: Request quota per 15-minute window (user context), roughly X's published limits.
RATE_LIMITS: dict[str, int] = {
    "users_me": 75,
    "dm_events": 15,
    "mentions": 180,
    "dm_create": 200,
    "tweet_create": 200,
    "webhooks": 15,
    "subscriptions": 500,
}
#: Endpoints X refuses with an app-only bearer token (403 "Unsupported Authentication").
_USER_CONTEXT_ONLY = {"users_me", "dm_events", "dm_create", "tweet_create"}
RATE_WINDOW_SECONDS = 15 * 60
TWEET_MAX_WEIGHT = 280
DM_MAX_CHARS = 10_000
#: Twitter's snowflake epoch (ms); ids encode their creation time like real ones.
_TWEPOCH_MS = 1_288_834_974_657
_API_HOSTS = ("https://api.twitter.com", "https://api.x.com")

_DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")
_DEFAULT_DM_FIELDS = ("id", "event_type", "text")
_DEFAULT_USER_FIELDS = ("id", "name", "username")
#: twitter-text v3 weighting: code points in these ranges weigh 1, everything else 2.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_URL_RE = re.compile(
    r"(?:https?://|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|co|ly|app|dev)\b\S*",
    re.IGNORECASE,
)
_MENTION_RE = re.compile(r"(?<![\w@])@(\w{1,15})")


class XCall(NamedTuple):
    """One API request as the fake saw it (failed and rejected ones included)."""

    key: str
    method: str
    path: str
    status: int
    params: dict[str, str]
    body: Any


class Delivery(NamedTuple):
    """One webhook request the fake sent into the app, for assertions and failure reports."""

    kind: str
    url: str
    status: int
    body: str
    payload: Any


class _Fault:
    def __init__(self, status: int, times: int) -> None:
        self.status = status
        self.remaining = times


class _Window:
    """One endpoint's rate-limit window; `enforced` is set by `rate_limit()` until the reset passes."""

    def __init__(self, limit: int, now: float) -> None:
        self.limit = limit
        self.remaining = limit
        self.reset_at = now + RATE_WINDOW_SECONDS
        self.enforced = False

    def roll(self, now: float) -> None:
        if now >= self.reset_at:
            self.remaining = self.limit
            self.reset_at = now + RATE_WINDOW_SECONDS
            self.enforced = False

    def headers(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(max(self.remaining, 0)),
            "x-rate-limit-reset": str(math.ceil(self.reset_at)),
        }


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


def webhook_signature(secret: str, body: bytes) -> str:
    """X's webhook signature header value: `sha256=` + base64(HMAC-SHA256(consumer secret, raw body))."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def _problem(
    status: int, detail: str | None = None, *, title: str | None = None, kind: str = "about:blank"
) -> dict[str, Any]:
    """An RFC 7807 problem body the way X v2 shapes its errors."""
    phrase = http.HTTPStatus(status).phrase
    return {"title": title or phrase, "detail": detail or phrase, "type": kind, "status": status}


def _invalid_request(message: str, parameter: str | None = None, value: Any = None) -> dict[str, Any]:
    """X's 400 body for bad parameters; tweepy puts `errors[].message` into the exception text."""
    error: dict[str, Any] = {"message": message}
    if parameter is not None:
        error["parameters"] = {parameter: [str(value)]}
    return {
        "errors": [error],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


def _iso(ms: int) -> str:
    """v2 timestamps: `2024-05-01T12:00:00.000Z` (tweepy parses exactly this format)."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _legacy_time(ms: int) -> str:
    """v1.1 timestamps, as Account Activity tweet payloads use: `Wed Oct 10 20:19:24 +0000 2018`."""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(
        "%a %b %d %H:%M:%S +0000 %Y"
    )


def _ms_of(snowflake: str) -> int:
    return (int(snowflake) >> 22) + _TWEPOCH_MS


def _csv(value: str | None) -> set[str]:
    return {part.strip() for part in (value or "").split(",") if part.strip()}


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class FakeX(ThreadedServer):
    """An X account (the brand) served over X API v2 HTTP; see the module docstring."""

    def __init__(
        self,
        port: int = 0,
        *,
        brand_id: str = "1500000000000000000",
        brand_username: str = "hearthlink",
        brand_name: str = "Hearthlink Support",
        consumer_key: str = "fake-consumer-key",
        consumer_secret: str = "fake-consumer-secret",
        access_token: str = "1500000000000000000-fakeaccesstoken",
        access_token_secret: str = "fake-access-token-secret",
        bearer_token: str = "fake-bearer-token",
        oauth2_user_token: str = "fake-oauth2-user-token",
        verify_oauth_signatures: bool = True,
        strict_fields: bool = True,
        enforce_rate_limits: bool = False,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host, port)
        self.brand_id = brand_id
        self.brand_username = brand_username
        self.brand_name = brand_name
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.access_token = access_token
        self.access_token_secret = access_token_secret
        self.bearer_token = bearer_token
        self.oauth2_user_token = oauth2_user_token
        self.verify_oauth_signatures = verify_oauth_signatures
        self.strict_fields = strict_fields
        self.enforce_rate_limits = enforce_rate_limits
        self.last_crc_token: str | None = None

        self._lock = threading.Lock()
        self._last_id = 0
        self._user_seq = itertools.count(1)
        self._users: dict[str, dict[str, str]] = {}
        self._webhooks: list[dict[str, Any]] = []
        self._subscriptions: set[str] = set()
        self.reset()

    # ------------------------------------------------------------------ lifecycle

    def build_app(self) -> web.Application:
        app = web.Application()
        routes: list[tuple[str, str, str, Callable[..., tuple[int, Any]]]] = [
            ("GET", "/2/users/me", "users_me", self._api_users_me),
            ("GET", "/2/dm_events", "dm_events", self._api_dm_events),
            (
                "GET",
                "/2/dm_conversations/with/{participant_id}/dm_events",
                "dm_events",
                self._api_dm_events,
            ),
            (
                "GET",
                "/2/dm_conversations/{dm_conversation_id}/dm_events",
                "dm_events",
                self._api_dm_events,
            ),
            ("GET", "/2/users/{id}/mentions", "mentions", self._api_mentions),
            (
                "POST",
                "/2/dm_conversations/with/{participant_id}/messages",
                "dm_create",
                self._api_dm_create,
            ),
            (
                "POST",
                "/2/dm_conversations/{dm_conversation_id}/messages",
                "dm_create",
                self._api_dm_create,
            ),
            ("POST", "/2/tweets", "tweet_create", self._api_tweet_create),
            ("POST", "/2/webhooks", "webhooks", self._api_webhook_create),
            ("GET", "/2/webhooks", "webhooks", self._api_webhook_list),
            (
                "POST",
                "/2/account_activity/webhooks/{webhook_id}/subscriptions/all",
                "subscriptions",
                self._api_subscribe,
            ),
            (
                "GET",
                "/2/account_activity/webhooks/{webhook_id}/subscriptions/all",
                "subscriptions",
                self._api_subscription,
            ),
        ]
        for method, path, key, handler in routes:
            app.router.add_route(method, path, self._endpoint(key, handler))
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        return app

    @property
    def credentials(self) -> dict[str, str]:
        """Keyword arguments for `tweepy.Client(**fake.credentials)` that this fake accepts."""
        return {
            "bearer_token": self.bearer_token,
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
            "access_token": self.access_token,
            "access_token_secret": self.access_token_secret,
        }

    # ------------------------------------------------------------------ test setup

    def reset(self) -> None:
        """Forget DMs, tweets, calls, faults, rate-limit windows and deliveries (users stay)."""
        with self._lock:
            self._dms: list[dict[str, Any]] = []
            self._tweets: dict[str, dict[str, Any]] = {}
            self._calls: list[XCall] = []
            self._deliveries: list[Delivery] = []
            self._faults: dict[str, _Fault] = {}
            self._windows: dict[str, _Window] = {}
            self._down = False
            self._users[self.brand_id] = {
                "id": self.brand_id,
                "name": self.brand_name,
                "username": self.brand_username,
            }

    def add_user(self, user_id: str, username: str, name: str | None = None) -> dict[str, str]:
        """Make a customer known, so expansions and webhook payloads carry their name and handle."""
        user = {"id": str(user_id), "name": name or username, "username": username.lstrip("@")}
        with self._lock:
            self._users[str(user_id)] = user
        return dict(user)

    def add_dm(
        self,
        sender_id: str,
        text: str,
        attachments: dict[str, Any] | None = None,
        *,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        """A customer DMs the brand; returns the full v2 event (all fields, as `dm_events` can show).

        Unknown senders are added as users on the fly. `attachments` is the v2 shape,
        e.g. `{"media_keys": ["3_1234"]}`.
        """
        with self._lock:
            event = self._record_dm(str(sender_id), self.brand_id, text, attachments, event_id, "customer")
            return self._public_dm(event, None)

    def add_mention(
        self, author_id: str, text: str, in_reply_to: str | None = None, *, tweet_id: str | None = None
    ) -> dict[str, Any]:
        """A customer tweets at the brand; returns the full v2 tweet.

        `@brand_username ` is prepended when the text does not mention the brand (X puts reply
        mentions into v2 `text` too). `in_reply_to` is a tweet id (the brand's, or any recorded).
        """
        if f"@{self.brand_username}".lower() not in text.lower():
            text = f"@{self.brand_username} {text}"
        with self._lock:
            tweet = self._record_tweet(str(author_id), text, in_reply_to, tweet_id)
            return self._public_tweet(tweet, None)

    def fail(self, endpoint_key: str, status: int = 503, times: int = 1) -> None:
        """Make the next `times` calls of an endpoint fail with HTTP `status` and an X-style body."""
        self._check_key(endpoint_key)
        with self._lock:
            self._faults[endpoint_key] = _Fault(status, times)

    def rate_limit(self, endpoint_key: str, remaining: int = 0, reset_in: float = 2) -> None:
        """Give an endpoint `remaining` more calls, then 429 until `reset_in` seconds have passed.

        The 429 carries `x-rate-limit-reset` = ceil(now + reset_in) (epoch seconds), which is what
        `tweepy.errors.TooManyRequests.response.headers` exposes and `wait_on_rate_limit` sleeps on.
        """
        self._check_key(endpoint_key)
        with self._lock:
            window = self._window(endpoint_key, time.time())
            window.remaining = remaining
            window.reset_at = time.time() + reset_in
            window.enforced = True

    def set_down(self, down: bool = True) -> None:
        """While down, every API call answers 503 (an outage, not a per-endpoint fault)."""
        with self._lock:
            self._down = down

    # ------------------------------------------------------------------ queries

    @property
    def calls(self) -> list[XCall]:
        """Every API request so far as `(key, method, path, status, params, body)`, failures included."""
        with self._lock:
            return copy.deepcopy(self._calls)

    def api_calls(self, endpoint_key: str | None = None) -> list[XCall]:
        """The recorded calls of one endpoint key (all calls if None; unknown routes are "unknown")."""
        return [c for c in self.calls if endpoint_key is None or c.key == endpoint_key]

    def user(self, user_id: str) -> dict[str, str] | None:
        with self._lock:
            return copy.deepcopy(self._users.get(str(user_id)))

    def conversation_id(self, user_id: str) -> str:
        """The one-to-one `dm_conversation_id` X uses between the brand and a user: `lower-higher`."""
        a, b = sorted((self.brand_id, str(user_id)), key=int)
        return f"{a}-{b}"

    def dm_events(self) -> list[dict[str, Any]]:
        """All DM events (customers' and the brand's), oldest first, with every field."""
        with self._lock:
            return [self._public_dm(e, None) for e in self._dms]

    def sent_dms(self, participant_id: str | None = None) -> list[dict[str, Any]]:
        """DMs the brand sent through the API, oldest first (v2 event fields plus `participant_id`)."""
        with self._lock:
            return [
                {**self._public_dm(e, None), "participant_id": e["recipient_id"]}
                for e in self._dms
                if e["source"] == "api"
                and (participant_id is None or e["recipient_id"] == str(participant_id))
            ]

    def posted_tweets(self) -> list[dict[str, Any]]:
        """Tweets the brand posted through the API, oldest first, each with `in_reply_to` (id or None)."""
        with self._lock:
            return [
                {**self._public_tweet(t, None), "in_reply_to": t["in_reply_to"]}
                for t in self._tweets.values()
                if t["source"] == "api"
            ]

    def tweet(self, tweet_id: str) -> dict[str, Any] | None:
        """Any recorded tweet (customer's or brand's) with every field, or None."""
        with self._lock:
            tweet = self._tweets.get(str(tweet_id))
            return None if tweet is None else self._public_tweet(tweet, None)

    def deliveries(self) -> list[Delivery]:
        """Webhook requests sent into the app and how it answered."""
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
        """Human-readable dump of DMs, tweets, API calls and deliveries, for assertion messages."""
        with self._lock:
            dms = list(self._dms)
            tweets = list(self._tweets.values())
            calls = list(self._calls)
            deliveries = list(self._deliveries)
        lines = [f"FakeX state ({len(dms)} DMs, {len(tweets)} tweets, {len(calls)} API calls):"]
        for e in dms:
            lines.append(f"  dm {e['id']} {e['sender_id']} -> {e['recipient_id']}: {e['text'][:120]!r}")
        for t in tweets:
            reply = f" (reply to {t['in_reply_to']})" if t["in_reply_to"] else ""
            lines.append(f"  tweet {t['id']} by {t['author_id']}{reply}: {t['text'][:120]!r}")
        for c in calls[-30:]:
            detail = json.dumps(c.body if c.body is not None else c.params, default=str)[:160]
            lines.append(f"  call {c.key} {c.method} {c.path} -> {c.status} {detail}")
        for d in deliveries[-20:]:
            lines.append(f"  delivery {d.kind} -> {d.status} {d.body[:120]!r}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ webhooks (X -> app)

    def expected_crc_response(self, crc_token: str) -> str:
        """What the app must answer a CRC with: `sha256=` + base64(HMAC-SHA256(consumer secret, token))."""
        return webhook_signature(self.consumer_secret, crc_token.encode())

    def sign(self, body: bytes, secret: str | None = None) -> str:
        """The `x-twitter-webhooks-signature` value for `body` (for `deliver_raw`)."""
        return webhook_signature(secret or self.consumer_secret, body)

    def crc_check(
        self, url: str, crc_token: str | None = None, *, timeout: float = 10
    ) -> tuple[int, dict[str, Any] | None]:
        """X's Challenge-Response Check: `GET url?crc_token=...&nonce=...`; returns (status, JSON or None).

        The token used is kept in `last_crc_token`; compare the body's `response_token` with
        `expected_crc_response(token)`.
        """
        token = crc_token or secrets.token_urlsafe(32)
        self.last_crc_token = token
        query = urllib.parse.urlencode({"crc_token": token, "nonce": secrets.token_hex(8)})
        full_url = f"{url}{'&' if '?' in url else '?'}{query}"
        status, text = self._send("crc", full_url, None, {}, {"crc_token": token}, timeout)
        try:
            body = json.loads(text) if text else None
        except json.JSONDecodeError:
            body = None
        return status, body if isinstance(body, dict) else None

    def deliver_dm(
        self,
        url: str,
        sender_id: str,
        text: str,
        *,
        event_id: str | None = None,
        signing_secret: str | None = None,
        timeout: float = 10,
    ) -> tuple[int, str]:
        """A customer DMs the brand: record it (also in `dm_events`) and POST the signed webhook event.

        Reusing an `event_id` redelivers that event without recording it again (X retries).
        """
        with self._lock:
            event = self._record_dm(str(sender_id), self.brand_id, text, None, event_id, "customer")
        return self._deliver_dm_event(url, event, signing_secret, timeout)

    def deliver_own_dm(
        self,
        url: str,
        text: str,
        *,
        recipient_id: str | None = None,
        event_id: str | None = None,
        signing_secret: str | None = None,
        timeout: float = 10,
    ) -> tuple[int, str]:
        """The webhook echo of a DM sent BY the brand (X echoes the account's own messages).

        With `event_id` of a DM the app sent, this is exactly that DM's echo; otherwise a new DM
        from the brand is recorded (as if typed in the X app; not in `sent_dms()`). The recipient
        defaults to the last customer the brand DMed or was DMed by.
        """
        with self._lock:
            existing = next((e for e in self._dms if event_id and e["id"] == str(event_id)), None)
            if existing is None:
                if recipient_id is None:
                    recipient_id = self._last_customer() or "1600000000000000001"
                existing = self._record_dm(self.brand_id, str(recipient_id), text, None, event_id, "external")
        return self._deliver_dm_event(url, existing, signing_secret, timeout)

    def deliver_mention(
        self,
        url: str,
        author_id: str,
        text: str,
        *,
        tweet_id: str | None = None,
        in_reply_to: str | None = None,
        signing_secret: str | None = None,
        timeout: float = 10,
    ) -> tuple[int, str]:
        """A customer mentions the brand: record it (also in `mentions`) and POST `tweet_create_events`."""
        if f"@{self.brand_username}".lower() not in text.lower():
            text = f"@{self.brand_username} {text}"
        with self._lock:
            tweet = self._tweets.get(str(tweet_id)) if tweet_id else None
            if tweet is None:
                tweet = self._record_tweet(str(author_id), text, in_reply_to, tweet_id)
            payload = {
                "for_user_id": self.brand_id,
                "user_has_blocked": False,
                "tweet_create_events": [self._legacy_tweet(tweet)],
            }
        return self._deliver_payload(f"mention {tweet['id']}", url, payload, signing_secret, timeout)

    def deliver_raw(
        self,
        url: str,
        body: bytes,
        signature: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 10,
    ) -> tuple[int, str]:
        """POST arbitrary bytes (malformed JSON, unknown events); unsigned unless `signature` is given."""
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if signature is not None:
            all_headers["x-twitter-webhooks-signature"] = signature
        return self._send("raw", url, body, all_headers, None, timeout)

    # ------------------------------------------------------------------ internals: records

    @staticmethod
    def _check_key(endpoint_key: str) -> None:
        if endpoint_key not in RATE_LIMITS:
            raise ValueError(f"unknown endpoint key {endpoint_key!r}; use one of {sorted(RATE_LIMITS)}")

    def _new_id(self) -> str:
        """A snowflake: creation time in the high bits, strictly increasing (call with the lock held)."""
        candidate = (int(time.time() * 1000) - _TWEPOCH_MS) << 22
        self._last_id = max(candidate, self._last_id + 1)
        return str(self._last_id)

    def _claim_id(self, wanted: str | None) -> str:
        if wanted is None:
            return self._new_id()
        if not str(wanted).isdigit():
            raise ValueError(f"X ids are numeric strings, got {wanted!r}")
        self._last_id = max(self._last_id, int(wanted))
        return str(wanted)

    def _ensure_user(self, user_id: str) -> None:
        if user_id not in self._users:
            n = next(self._user_seq)
            self._users[user_id] = {"id": user_id, "name": f"Customer {n}", "username": f"customer{n}"}

    def _record_dm(
        self,
        sender_id: str,
        recipient_id: str,
        text: str,
        attachments: dict[str, Any] | None,
        event_id: str | None,
        source: str,
    ) -> dict[str, Any]:
        """Store a DM event (lock held); an existing `event_id` returns the stored event unchanged."""
        for existing in self._dms:
            if event_id is not None and existing["id"] == str(event_id):
                return existing
        self._ensure_user(sender_id)
        self._ensure_user(recipient_id)
        event_id = self._claim_id(event_id)
        other = recipient_id if sender_id == self.brand_id else sender_id
        event: dict[str, Any] = {
            "id": event_id,
            "event_type": "MessageCreate",
            "text": text,
            "sender_id": sender_id,
            "dm_conversation_id": self.conversation_id(other),
            "created_at": _iso(_ms_of(event_id)),
            "recipient_id": recipient_id,
            "source": source,
        }
        if attachments:
            event["attachments"] = copy.deepcopy(attachments)
        self._dms.append(event)
        self._dms.sort(key=lambda e: int(e["id"]))
        return event

    def _record_tweet(
        self,
        author_id: str,
        text: str,
        in_reply_to: str | None,
        tweet_id: str | None,
        source: str = "customer",
    ) -> dict[str, Any]:
        self._ensure_user(author_id)
        tweet_id = self._claim_id(tweet_id)
        parent = self._tweets.get(str(in_reply_to)) if in_reply_to else None
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "text": text,
            "edit_history_tweet_ids": [tweet_id],
            "author_id": author_id,
            "conversation_id": parent["conversation_id"] if parent else (str(in_reply_to or tweet_id)),
            "created_at": _iso(_ms_of(tweet_id)),
            "lang": "en",
            "in_reply_to": str(in_reply_to) if in_reply_to else None,
            "source": source,
        }
        if in_reply_to:
            tweet["in_reply_to_user_id"] = parent["author_id"] if parent else self.brand_id
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": str(in_reply_to)}]
        mentions = []
        for match in _MENTION_RE.finditer(text):
            user = self._user_by_username(match.group(1))
            entry = {"start": match.start(), "end": match.end(), "username": match.group(1)}
            mentions.append({**entry, "id": user["id"]} if user else entry)
        if mentions:
            tweet["entities"] = {"mentions": mentions}
        self._tweets[tweet_id] = tweet
        return tweet

    def _user_by_username(self, username: str) -> dict[str, str] | None:
        return next((u for u in self._users.values() if u["username"].lower() == username.lower()), None)

    def _last_customer(self) -> str | None:
        if not self._dms:
            return None
        event = self._dms[-1]
        return event["recipient_id"] if event["sender_id"] == self.brand_id else event["sender_id"]

    def _select(
        self, record: Mapping[str, Any], defaults: tuple[str, ...], wanted: set[str] | None
    ) -> dict[str, Any]:
        """Project a record onto X's default + requested fields (all public fields when not strict)."""
        private = {"recipient_id", "source", "in_reply_to"}
        if wanted is None or not self.strict_fields:
            return copy.deepcopy({k: v for k, v in record.items() if k not in private})
        keep = set(defaults) | wanted
        return copy.deepcopy({k: v for k, v in record.items() if k in keep and k not in private})

    def _public_dm(self, event: dict[str, Any], wanted: set[str] | None) -> dict[str, Any]:
        return self._select(event, _DEFAULT_DM_FIELDS, wanted)

    def _public_tweet(self, tweet: dict[str, Any], wanted: set[str] | None) -> dict[str, Any]:
        return self._select(tweet, _DEFAULT_TWEET_FIELDS, wanted)

    def _public_users(self, user_ids: list[str], params: dict[str, str]) -> list[dict[str, Any]]:
        seen: list[str] = []
        for user_id in user_ids:
            if user_id and user_id not in seen and user_id in self._users:
                seen.append(user_id)
        wanted = _csv(params.get("user.fields"))
        return [self._select(self._users[u], _DEFAULT_USER_FIELDS, wanted) for u in seen]

    def _legacy_user(self, user_id: str) -> dict[str, Any]:
        """A v1.1 user object as Account Activity payloads carry it."""
        user = self._users.get(user_id) or {"id": user_id, "name": user_id, "username": user_id}
        return {
            "id": int(user_id),
            "id_str": user_id,
            "name": user["name"],
            "screen_name": user["username"],
            "location": None,
            "url": None,
            "description": None,
            "protected": False,
            "verified": False,
            "followers_count": 10,
            "friends_count": 10,
            "statuses_count": 10,
            "created_at": "Thu Jan 01 00:00:00 +0000 2015",
            "profile_image_url_https": "https://pbs.twimg.com/profile_images/0/default_normal.png",
        }

    def _legacy_tweet(self, tweet: dict[str, Any]) -> dict[str, Any]:
        """The v1.1 tweet object of a recorded tweet, as `tweet_create_events` carries it."""
        ms = _ms_of(tweet["id"])
        reply_to = tweet["in_reply_to"]
        reply_user = tweet.get("in_reply_to_user_id")
        mentions = []
        for m in tweet.get("entities", {}).get("mentions", []):
            user = self._user_by_username(m["username"])
            if user is not None:
                mentions.append(
                    {
                        "screen_name": user["username"],
                        "name": user["name"],
                        "id": int(user["id"]),
                        "id_str": user["id"],
                        "indices": [m["start"], m["end"]],
                    }
                )
        return {
            "created_at": _legacy_time(ms),
            "id": int(tweet["id"]),
            "id_str": tweet["id"],
            "text": tweet["text"],
            "source": '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>',
            "truncated": False,
            "in_reply_to_status_id": int(reply_to) if reply_to else None,
            "in_reply_to_status_id_str": reply_to,
            "in_reply_to_user_id": int(reply_user) if reply_user else None,
            "in_reply_to_user_id_str": reply_user,
            "in_reply_to_screen_name": (self._users.get(reply_user) or {}).get("username")
            if reply_user
            else None,
            "user": self._legacy_user(tweet["author_id"]),
            "is_quote_status": False,
            "entities": {"hashtags": [], "urls": [], "user_mentions": mentions, "symbols": []},
            "favorited": False,
            "retweeted": False,
            "lang": tweet.get("lang", "en"),
            "timestamp_ms": str(ms),
        }

    # ------------------------------------------------------------------ internals: sending

    def _deliver_dm_event(
        self, url: str, event: dict[str, Any], signing_secret: str | None, timeout: float
    ) -> tuple[int, str]:
        with self._lock:
            sender, recipient = event["sender_id"], event["recipient_id"]
            entities = {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []}
            message_create: dict[str, Any] = {
                "target": {"recipient_id": recipient},
                "sender_id": sender,
                "message_data": {"text": event["text"], "entities": entities},
            }
            if sender == self.brand_id:
                message_create["source_app_id"] = "26000001"
            payload: dict[str, Any] = {
                "for_user_id": self.brand_id,
                "direct_message_events": [
                    {
                        "type": "message_create",
                        "id": event["id"],
                        "created_timestamp": str(_ms_of(event["id"])),
                        "message_create": message_create,
                    }
                ],
                "users": {uid: self._legacy_dm_user(uid) for uid in (sender, recipient)},
            }
            if sender == self.brand_id:
                payload["apps"] = {"26000001": {"id": "26000001", "name": "Hearthlink Support", "url": ""}}
        kind = "own_dm" if sender == self.brand_id else "dm"
        return self._deliver_payload(f"{kind} {event['id']}", url, payload, signing_secret, timeout)

    def _legacy_dm_user(self, user_id: str) -> dict[str, Any]:
        legacy = self._legacy_user(user_id)
        return {
            "id": user_id,
            "created_timestamp": "1420070400000",
            "name": legacy["name"],
            "screen_name": legacy["screen_name"],
            "protected": False,
            "verified": False,
            "followers_count": legacy["followers_count"],
            "friends_count": legacy["friends_count"],
            "statuses_count": legacy["statuses_count"],
            "profile_image_url_https": legacy["profile_image_url_https"],
        }

    def _deliver_payload(
        self, kind: str, url: str, payload: dict[str, Any], signing_secret: str | None, timeout: float
    ) -> tuple[int, str]:
        body = _compact(payload)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "x-twitter-webhooks-signature": webhook_signature(signing_secret or self.consumer_secret, body),
        }
        return self._send(kind, url, body, headers, payload, timeout)

    def _send(
        self, kind: str, url: str, body: bytes | None, headers: dict[str, str], payload: Any, timeout: float
    ) -> tuple[int, str]:
        request = urllib.request.Request(url, data=body, method="GET" if body is None else "POST")
        request.add_header("User-Agent", "Twitter-Webhooks/1.0")
        for name, value in headers.items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8", "replace")
        with self._lock:
            self._deliveries.append(Delivery(kind, url, status, text, payload))
        return status, text

    # ------------------------------------------------------------------ internals: HTTP API

    def _endpoint(self, key: str, handler: Callable[..., tuple[int, Any]]) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            params = dict(request.query)
            body: Any = None
            parse_error = False
            if request.method == "POST":
                raw = await request.read()
                try:
                    body = json.loads(raw) if raw else {}
                except (json.JSONDecodeError, UnicodeDecodeError):
                    parse_error = True
            with self._lock:
                status, payload, headers = self._process(key, request, params, body, parse_error, handler)
                self._calls.append(XCall(key, request.method, request.path, status, params, body))
            return web.json_response(payload, status=status, headers=headers)

        return handle

    def _process(
        self,
        key: str,
        request: web.Request,
        params: dict[str, str],
        body: Any,
        parse_error: bool,
        handler: Callable[..., tuple[int, Any]],
    ) -> tuple[int, Any, dict[str, str]]:
        """Outage, injected fault, auth, rate limit, then the endpoint itself (lock held)."""
        now = time.time()
        window = self._window(key, now)
        if self._down:
            return 503, _problem(503), window.headers()
        fault = self._faults.get(key)
        if fault is not None and fault.remaining > 0:
            fault.remaining -= 1
            if fault.status == 429:
                return 429, _problem(429), {**window.headers(), "x-rate-limit-remaining": "0"}
            return fault.status, _problem(fault.status), window.headers()
        auth_error = self._check_auth(key, request)
        if auth_error is not None:
            return auth_error[0], auth_error[1], window.headers()
        if window.remaining <= 0 and (window.enforced or self.enforce_rate_limits):
            return 429, _problem(429), window.headers()
        if window.remaining <= 0:  # not enforcing: start a fresh window rather than fail
            window.remaining = window.limit
            window.reset_at = now + RATE_WINDOW_SECONDS
        window.remaining -= 1
        if parse_error or (request.method == "POST" and not isinstance(body, dict)):
            return 400, _invalid_request("Request body must be a JSON object."), window.headers()
        status, payload = handler(dict(request.match_info), params, body)
        return status, payload, window.headers()

    def _window(self, key: str, now: float) -> _Window:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(RATE_LIMITS[key], now)
        window.roll(now)
        return window

    def _check_auth(self, key: str, request: web.Request) -> tuple[int, dict[str, Any]] | None:
        """None when authorised, else (status, X-style body)."""
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        scheme = scheme.lower()
        unauthorized = (401, _problem(401))
        if scheme == "bearer":
            token = credential.strip()
            if token == self.oauth2_user_token:
                return None
            if token != self.bearer_token:
                return unauthorized
            if key in _USER_CONTEXT_ONLY:
                return 403, _problem(
                    403,
                    "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
                    "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                    title="Unsupported Authentication",
                    kind="https://api.twitter.com/2/problems/unsupported-authentication",
                )
            return None
        if scheme == "oauth":
            return None if self._oauth1_valid(request, header) else unauthorized
        return unauthorized

    def _oauth1_valid(self, request: web.Request, header: str) -> bool:
        """OAuth 1.0a user context: the right consumer key and access token, and a valid signature.

        The client signed the original `https://api.twitter.com` (or api.x.com) URL before the
        transport adapter rewrote it, so the signature base string is rebuilt with those hosts.
        """
        try:
            oauth = {k: oauth_utils.unescape(v) for k, v in oauth_utils.parse_authorization_header(header)}
        except (ValueError, TypeError):
            return False
        if (
            oauth.get("oauth_consumer_key") != self.consumer_key
            or oauth.get("oauth_token") != self.access_token
        ):
            return False
        given = oauth.get("oauth_signature")
        if not given:
            return False
        if not self.verify_oauth_signatures:
            return True
        if oauth.get("oauth_signature_method") != "HMAC-SHA1":
            return False
        params = oauth_signature.collect_parameters(
            uri_query=request.rel_url.raw_query_string,
            headers={"Authorization": header},
            exclude_oauth_signature=True,
        )
        normalized = oauth_signature.normalize_parameters(params)
        for host in _API_HOSTS:
            uri = oauth_signature.base_string_uri(host + request.rel_url.raw_path)
            base = oauth_signature.signature_base_string(request.method, uri, normalized)
            expected = oauth_signature.sign_hmac_sha1(base, self.consumer_secret, self.access_token_secret)
            if hmac.compare_digest(expected, given):
                return True
        return False

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        with self._lock:
            self._calls.append(XCall("unknown", request.method, request.path, 404, dict(request.query), None))
        body = _problem(
            404,
            f"The route {request.method} {request.path} is not served by FakeX.",
            title="Not Found Error",
            kind="https://api.twitter.com/2/problems/resource-not-found",
        )
        return web.json_response(body, status=404)

    # ------------------------------------------------------------------ internals: pagination

    @staticmethod
    def _token(kind: str, cursor: str) -> str:
        return base64.b32encode(f"{kind}:{cursor}".encode()).decode().rstrip("=")

    @staticmethod
    def _untoken(kind: str, token: str) -> str | None:
        try:
            decoded = base64.b32decode(token + "=" * (-len(token) % 8)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        prefix, _, cursor = decoded.partition(":")
        return cursor if prefix == kind and cursor.isdigit() else None

    @staticmethod
    def _max_results(params: dict[str, str], low: int, high: int, default: int) -> int | dict[str, Any]:
        raw = params.get("max_results")
        if raw is None:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            return _invalid_request(
                f"The `max_results` query parameter value [{raw}] is not between {low} and {high}",
                "max_results",
                raw,
            )
        return int(raw)

    def _page(
        self, kind: str, items: list[dict[str, Any]], params: dict[str, str], limit: int
    ) -> tuple[list[dict[str, Any]], str | None] | dict[str, Any]:
        """Newest-first `items` after the pagination cursor: (page, next_token) or an error body."""
        token = params.get("pagination_token")
        if token:
            cursor = self._untoken(kind, token)
            if cursor is None:
                return _invalid_request(
                    f"The `pagination_token` query parameter value [{token}] is not valid",
                    "pagination_token",
                    token,
                )
            items = [i for i in items if int(i["id"]) < int(cursor)]
        page = items[:limit]
        next_token = self._token(kind, page[-1]["id"]) if len(items) > limit else None
        return page, next_token

    # ------------------------------------------------------------------ endpoint handlers (lock held)

    def _api_webhook_create(
        self, match: dict[str, str], params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        """Register a webhook URL: like X, run a CRC check against it first (lock held, briefly)."""
        url = str((body or {}).get("url") or "")
        token = secrets.token_urlsafe(16)
        try:
            reply = requests.get(url, params={"crc_token": token}, timeout=10)
            valid = reply.status_code == 200 and reply.json().get(
                "response_token"
            ) == self.expected_crc_response(token)
        except (requests.RequestException, ValueError):
            valid = False
        if not valid:
            return 400, _problem(400, f"CRC check failed for {url}", title="Invalid Request")
        webhook = {"id": str(len(self._webhooks) + 1_000), "url": url, "valid": True,
                   "created_at": "2026-11-23T00:00:00.000Z"}  # fmt: skip
        self._webhooks.append(webhook)
        return 200, {"data": webhook}

    def _api_webhook_list(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        return 200, ({"data": list(self._webhooks)} if self._webhooks else {"meta": {"result_count": 0}})

    def _api_subscribe(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        if not any(w["id"] == match["webhook_id"] for w in self._webhooks):
            return 404, _problem(404, "webhook not found", title="Not Found")
        self._subscriptions.add(match["webhook_id"])
        return 200, {"data": {"subscribed": True}}

    def _api_subscription(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        return 200, {"data": {"subscribed": match["webhook_id"] in self._subscriptions}}

    def _api_users_me(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        wanted = _csv(params.get("user.fields"))
        return 200, {"data": self._select(self._users[self.brand_id], _DEFAULT_USER_FIELDS, wanted)}

    def _api_dm_events(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        limit = self._max_results(params, 1, 100, 100)
        if isinstance(limit, dict):
            return 400, limit
        events = list(reversed(self._dms))
        if "participant_id" in match:
            conversation = self.conversation_id(match["participant_id"])
            events = [e for e in events if e["dm_conversation_id"] == conversation]
        elif "dm_conversation_id" in match:
            events = [e for e in events if e["dm_conversation_id"] == match["dm_conversation_id"]]
        types = _csv(params.get("event_types"))
        if types:
            events = [e for e in events if e["event_type"] in types]
        paged = self._page("dm", events, params, limit)
        if isinstance(paged, dict):
            return 400, paged
        page, next_token = paged
        expansions = _csv(params.get("expansions"))
        wanted = _csv(params.get("dm_event.fields")) | ({"sender_id"} & expansions)
        result: dict[str, Any] = {}
        if page:
            result["data"] = [self._public_dm(e, wanted) for e in page]
            if "sender_id" in expansions:
                result["includes"] = {"users": self._public_users([e["sender_id"] for e in page], params)}
        meta: dict[str, Any] = {"result_count": len(page)}
        if next_token:
            meta["next_token"] = next_token
        result["meta"] = meta
        return 200, result

    def _api_mentions(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        user_id = match["id"]
        if not user_id.isdigit():
            return 400, _invalid_request(
                f"The `id` query parameter value [{user_id}] is not valid", "id", user_id
            )
        limit = self._max_results(params, 5, 100, 10)
        if isinstance(limit, dict):
            return 400, limit
        bounds = {}
        for name in ("since_id", "until_id"):
            raw = params.get(name)
            if raw is not None and not raw.isdigit():
                return 400, _invalid_request(
                    f"The `{name}` query parameter value [{raw}] is not valid", name, raw
                )
            bounds[name] = int(raw) if raw else None
        user = self._users.get(user_id)
        handle = f"@{user['username']}".lower() if user else None
        tweets = [
            t
            for t in sorted(self._tweets.values(), key=lambda t: int(t["id"]), reverse=True)
            if handle is not None
            and t["author_id"] != user_id
            and any(f"@{m['username']}".lower() == handle for m in t.get("entities", {}).get("mentions", []))
            and (bounds["since_id"] is None or int(t["id"]) > bounds["since_id"])
            and (bounds["until_id"] is None or int(t["id"]) < bounds["until_id"])
        ]
        paged = self._page("mentions", tweets, params, limit)
        if isinstance(paged, dict):
            return 400, paged
        page, next_token = paged
        if not page:
            return 200, {"meta": {"result_count": 0}}
        expansions = _csv(params.get("expansions"))
        wanted = _csv(params.get("tweet.fields")) | ({"author_id", "in_reply_to_user_id"} & expansions)
        result: dict[str, Any] = {"data": [self._public_tweet(t, wanted) for t in page]}
        user_ids = [t["author_id"] for t in page if "author_id" in expansions]
        user_ids += [t.get("in_reply_to_user_id", "") for t in page if "in_reply_to_user_id" in expansions]
        if user_ids:
            result["includes"] = {"users": self._public_users(user_ids, params)}
        meta: dict[str, Any] = {
            "result_count": len(page),
            "newest_id": page[0]["id"],
            "oldest_id": page[-1]["id"],
        }
        if next_token:
            meta["next_token"] = next_token
        result["meta"] = meta
        return 200, result

    def _api_dm_create(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        if "participant_id" in match:
            participant = match["participant_id"]
        else:
            ids = match["dm_conversation_id"].split("-")
            if len(ids) != 2 or self.brand_id not in ids:
                return 403, _problem(403, "You are not a participant in this conversation.")
            participant = ids[0] if ids[1] == self.brand_id else ids[1]
        if not participant.isdigit() or participant == self.brand_id:
            return 400, _invalid_request(
                f"The `participant_id` path parameter value [{participant}] is not valid",
                "participant_id",
                participant,
            )
        text = body.get("text")
        attachments = body.get("attachments")
        if not isinstance(text, str) and not attachments:
            return 400, _invalid_request("Either `text` or `attachments` is required.", "text", None)
        text = text if isinstance(text, str) else ""
        if not text.strip() and not attachments:
            return 400, _invalid_request("`text` must not be empty.", "text", text)
        if len(text) > DM_MAX_CHARS:
            return 400, _invalid_request(
                f"`text` is {len(text)} characters; Direct Messages allow at most {DM_MAX_CHARS}.",
                "text",
                len(text),
            )
        media = {"media_keys": [f"3_{a.get('media_id')}" for a in attachments]} if attachments else None
        event = self._record_dm(self.brand_id, participant, text, media, None, "api")
        return 201, {"data": {"dm_conversation_id": event["dm_conversation_id"], "dm_event_id": event["id"]}}

    def _api_tweet_create(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        text = body.get("text")
        has_media = bool((body.get("media") or {}).get("media_ids"))
        if not isinstance(text, str) or (not text.strip() and not has_media):
            return 400, _invalid_request("`text` is required unless media is attached.", "text", text)
        weight = tweet_length(text)
        if weight > TWEET_MAX_WEIGHT:
            return 400, _problem(
                400,
                "Your Tweet text is too long. For more information on how Twitter determines text length "
                "see https://github.com/twitter/twitter-text.",
            )
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None and str(reply_to) not in self._tweets:
            return 403, _problem(
                403, "You attempted to reply to a Tweet that is deleted or not visible to you."
            )
        tweet = self._record_tweet(self.brand_id, text, str(reply_to) if reply_to else None, None, "api")
        return 201, {
            "data": {"id": tweet["id"], "text": tweet["text"], "edit_history_tweet_ids": [tweet["id"]]}
        }
