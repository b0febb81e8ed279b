"""A fake X (Twitter) API v2 that speaks X's real HTTP protocol on 127.0.0.1.

Why a server and not a mock: our X channel talks to X through the real `tweepy.Client`
(`requests` under the hood, re-pointed here by a transport adapter that rewrites
`https://api.twitter.com` / `https://api.x.com` to `base_url`), and X talks to the channel through
signed Account Activity webhooks. Exercising both directions over real HTTP catches what mocks hide:
missing `user_auth`, forgotten `*.fields` / `expansions`, bad OAuth 1.0a signatures, pagination
loops, rate limits and 5xx outages.

The parts: ``api`` (the endpoints the bot calls), ``auth`` (OAuth, bearer, rate-limit windows),
``records`` (users, DMs, tweets, field selection, tweet length), ``webhooks`` (X -> the bot).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import urllib.parse
from typing import Any

from aiohttp import web

from tests.fakes.server import Call, FakeService, compact
from tests.fakes.x.api import Handler, XApi
from tests.fakes.x.auth import RATE_LIMITS, Credentials, RateWindow, invalid_request, problem
from tests.fakes.x.records import XRecords, tweet_length
from tests.fakes.x.webhooks import crc_response, dm_payload, webhook_signature

__all__ = ["FakeX", "tweet_length"]


class FakeX(FakeService):
    """An X account (the brand) served over X API v2 HTTP; see the module docstring."""

    user_agent = "Twitter-Webhooks/1.0"
    brand_id = "1500000000000000000"

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__(host, port)
        self.keys = Credentials()
        self.records = XRecords(self.brand_id, "hearthlink", "Hearthlink Support")
        self.api = XApi(self.records, self.keys.consumer_secret)
        self.last_crc_token: str | None = None
        self._windows: dict[str, RateWindow] = {}
        self._hangs: dict[str, list[float]] = {}
        self._stopping = False
        self._stalled = 0  # calls stalling right now (read by stop(), written on the loop)

    def stop(self) -> None:
        """End any stall first: a call still sleeping when the loop closes would be destroyed."""
        self._stopping = True
        deadline = time.monotonic() + 2
        while self._stalled and time.monotonic() < deadline:
            time.sleep(0.02)
        super().stop()

    async def _stall(self, seconds: float) -> None:
        self._stalled += 1
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and not self._stopping:
                await asyncio.sleep(0.02)
        finally:
            self._stalled -= 1

    def build_app(self) -> web.Application:
        app = web.Application()
        for method, path, endpoint, handler in self.api.routes():
            app.router.add_route(method, path, self._endpoint(endpoint, handler))
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        return app

    @property
    def credentials(self) -> dict[str, str]:
        """Keyword arguments for `tweepy.Client(**fake.credentials)` that this fake accepts."""
        keys = self.keys
        return {
            "bearer_token": keys.bearer_token,
            "consumer_key": keys.consumer_key,
            "consumer_secret": keys.consumer_secret,
            "access_token": keys.access_token,
            "access_token_secret": keys.access_token_secret,
        }

    # ------------------------------------------------------------------ test setup

    def add_user(self, user_id: str, username: str, name: str | None = None) -> dict[str, str]:
        """Make a customer known, so expansions and webhook payloads carry their name and handle."""
        user = {"id": str(user_id), "name": name or username, "username": username.lstrip("@")}
        with self._lock:
            self.records.users[str(user_id)] = user
        return dict(user)

    def add_dm(self, sender_id: str, text: str, attachments: dict[str, Any] | None = None) -> dict[str, Any]:
        """A customer DMs the brand (for polling); `attachments` is the v2 shape (`{"media_keys": [...]}`)."""
        with self._lock:
            event = self.records.record_dm(str(sender_id), self.brand_id, text, "customer", attachments)
            return self.records.select(event, (), None)

    def add_mention(self, author_id: str, text: str) -> dict[str, Any]:
        """A customer tweets at the brand (for polling); `@hearthlink ` is prepended when missing."""
        if f"@{self.records.brand_username}".lower() not in text.lower():
            text = f"@{self.records.brand_username} {text}"
        with self._lock:
            return self.records.select(self.records.record_tweet(str(author_id), text), (), None)

    def rate_limit(self, endpoint: str, remaining: int = 0, reset_in: float = 2) -> None:
        """Give an endpoint `remaining` more calls, then 429 until `reset_in` seconds have passed.

        The 429 carries `x-rate-limit-reset` = ceil(now + reset_in) (epoch seconds), which is what
        tweepy's `TooManyRequests.response.headers` exposes.
        """
        if endpoint not in RATE_LIMITS:
            raise ValueError(f"unknown endpoint key {endpoint!r}; use one of {sorted(RATE_LIMITS)}")
        with self._lock:
            window = self._window(endpoint, time.time())
            window.remaining, window.reset_at, window.enforced = remaining, time.time() + reset_in, True

    def hang(self, endpoint: str, seconds: float, times: int = 1) -> None:
        """Make the next `times` calls of `endpoint` stall `seconds` before they are answered.

        A stalled X (a connection that stays open and says nothing) is what a client without a
        timeout never recovers from. The call is recorded (status 0) when it starts stalling.
        """
        if endpoint not in RATE_LIMITS:
            raise ValueError(f"unknown endpoint key {endpoint!r}; use one of {sorted(RATE_LIMITS)}")
        with self._lock:
            self._hangs[endpoint] = [seconds] * times

    # ------------------------------------------------------------------ queries

    def sent_dms(self, participant_id: str | None = None) -> list[dict[str, Any]]:
        """DMs the bot sent through the API, oldest first (v2 event fields plus `participant_id`)."""
        with self._lock:
            return [
                {**self.records.select(e, (), None), "participant_id": e["recipient_id"]}
                for e in self.records.dms
                if e["source"] == "api" and participant_id in (None, e["recipient_id"])
            ]

    def posted_tweets(self) -> list[dict[str, Any]]:
        """Tweets the bot posted through the API, oldest first, each with `in_reply_to` (id or None)."""
        with self._lock:
            return [
                {**self.records.select(t, (), None), "in_reply_to": t["in_reply_to"]}
                for t in self.records.tweets.values()
                if t["source"] == "api"
            ]

    def describe_state(self) -> list[str]:
        with self._lock:
            dms, tweets = list(self.records.dms), list(self.records.tweets.values())
        lines = [f"  {len(dms)} DMs, {len(tweets)} tweets:"]
        lines += [f"  dm {e['id']} {e['sender_id']} -> {e['recipient_id']}: {e['text'][:120]!r}" for e in dms]
        for t in tweets:
            reply = f" (reply to {t['in_reply_to']})" if t["in_reply_to"] else ""
            lines.append(f"  tweet {t['id']} by {t['author_id']}{reply}: {t['text'][:120]!r}")
        return lines

    # ------------------------------------------------------------------ webhooks (X -> the bot)

    def expected_crc_response(self, crc_token: str) -> str:
        """What the app must answer a CRC with: `sha256=` + base64(HMAC-SHA256(consumer secret, token))."""
        return crc_response(self.keys.consumer_secret, crc_token)

    def sign(self, body: bytes) -> str:
        """The `x-twitter-webhooks-signature` value for `body`."""
        return webhook_signature(self.keys.consumer_secret, body)

    def crc_check(self, url: str) -> tuple[int, dict[str, Any] | None]:
        """X's Challenge-Response Check: `GET url?crc_token=…&nonce=…`; returns (status, JSON or None).

        The token is kept in `last_crc_token`; compare `response_token` with `expected_crc_response`.
        """
        self.last_crc_token = secrets.token_urlsafe(32)
        query = urllib.parse.urlencode({"crc_token": self.last_crc_token, "nonce": secrets.token_hex(8)})
        status, text = self.deliver("crc", f"{url}?{query}", None, {})
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
    ) -> tuple[int, str]:
        """A customer DMs the brand: record it (also in `dm_events`) and POST the signed webhook event.

        Reusing an `event_id` redelivers that event without recording it again (X retries).
        """
        with self._lock:
            event = self.records.record_dm(str(sender_id), self.brand_id, text, "customer", event_id=event_id)
            payload = dm_payload(self.records, event)
        return self._deliver_signed(f"dm {event['id']}", url, payload, signing_secret)

    def deliver_own_dm(self, url: str, text: str) -> tuple[int, str]:
        """The webhook echo of a DM the brand sent from the X app (X echoes the account's own DMs)."""
        with self._lock:
            recipient = self.records.last_customer() or "1600000000000000001"
            event = self.records.record_dm(self.brand_id, recipient, text, "external")
            payload = dm_payload(self.records, event)
        return self._deliver_signed(f"own_dm {event['id']}", url, payload, None)

    def deliver_raw(self, url: str, body: bytes, signature: str | None = None) -> tuple[int, str]:
        """POST arbitrary bytes (malformed JSON, unknown events); unsigned unless `signature` is given."""
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["x-twitter-webhooks-signature"] = signature
        return self.deliver("raw", url, body, headers)

    def _deliver_signed(
        self, kind: str, url: str, payload: dict[str, Any], signing_secret: str | None
    ) -> tuple[int, str]:
        body = compact(payload)
        signature = webhook_signature(signing_secret or self.keys.consumer_secret, body)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "x-twitter-webhooks-signature": signature,
        }
        return self.deliver(kind, url, body, headers)

    # ------------------------------------------------------------------ the HTTP API

    def _endpoint(self, endpoint: str, handler: Handler) -> Any:
        async def handle(request: web.Request) -> web.Response:
            params = dict(request.query)
            with self._lock:
                hangs = self._hangs.get(endpoint)
                stall = hangs.pop(0) if hangs else 0.0
                if stall:
                    self._calls.append(Call(endpoint, 0, params))
            if stall:
                await self._stall(stall)
            body: Any = None
            if request.method == "POST":
                raw = await request.read()
                try:
                    body = json.loads(raw) if raw else {}
                except (json.JSONDecodeError, UnicodeDecodeError):
                    body = None
            with self._lock:
                status, payload, headers = self._answer(endpoint, request, params, body, handler)
                self._calls.append(Call(endpoint, status, params, body))
            return web.json_response(payload, status=status, headers=headers)

        return handle

    def _answer(
        self, endpoint: str, request: web.Request, params: dict[str, str], body: Any, handler: Handler
    ) -> tuple[int, Any, dict[str, str]]:
        """Outage or injected fault, auth, rate limit, then the endpoint itself (lock held)."""
        window = self._window(endpoint, time.time())
        fault = self._take_fault(endpoint)
        if fault is not None:
            limited = {"x-rate-limit-remaining": "0"} if fault.status == 429 else {}
            return fault.status, problem(fault.status), {**window.headers(), **limited}
        refusal = self.keys.refusal(endpoint, request)
        if refusal is not None:
            return *refusal, window.headers()
        if not window.take(time.time()):
            return 429, problem(429), window.headers()
        if request.method == "POST" and not isinstance(body, dict):
            return 400, invalid_request("Request body must be a JSON object."), window.headers()
        status, payload = handler(dict(request.match_info), params, body)
        return status, payload, window.headers()

    def _window(self, endpoint: str, now: float) -> RateWindow:
        if endpoint not in self._windows:
            self._windows[endpoint] = RateWindow(RATE_LIMITS[endpoint], now)
        return self._windows[endpoint]

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        with self._lock:
            self._calls.append(Call("unknown", 404, dict(request.query)))
        body = problem(
            404,
            f"The route {request.method} {request.path} is not served by FakeX.",
            title="Not Found Error",
            kind="https://api.twitter.com/2/problems/resource-not-found",
        )
        return web.json_response(body, status=404)
