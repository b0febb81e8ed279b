"""Talking to the X API v2 through tweepy: settings, the client, errors mapped for the outbox.

Settings come from credentials.yml's X section or the environment (bot/credentials.py,
docs/configuration.md, docs/x.md "Connect X"):

- ``X_CONSUMER_KEY`` / ``X_CONSUMER_SECRET``: the app's API key and secret (the secret
  also signs webhook deliveries and answers the CRC challenge);
- ``X_ACCESS_TOKEN`` / ``X_ACCESS_TOKEN_SECRET``: the brand account's user-context
  tokens (DMs and replies are sent as the brand);
- ``X_ACCOUNT_ID`` (optional: looked up with ``GET /2/users/me``), ``X_BEARER_TOKEN``
  (optional);
- ``X_MODE``: ``polling`` (default; works on every API plan) or ``webhook``;
  ``X_POLL_INTERVAL`` seconds between polls (default 60);
- ``X_TIMEOUT``: seconds one API call may take (default 30). tweepy 4.x has no timeout
  argument and calls ``requests`` without one, so a stalled connection would hang the
  poller (or an outbox delivery) for good; :func:`make_client` mounts adapters that give
  every request of the client's session this timeout;
- ``X_API_URL``: another base URL for the API (tests point it at a fake X server). It is
  applied as a transport adapter on tweepy's own ``requests`` session, so the real
  tweepy client code runs unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import tweepy
from requests.adapters import HTTPAdapter

from bot.credentials import x_values
from bot.outbox import GiveUp, RetryLater
from bot.settings import SettingsError

X_HOSTS = ("https://api.twitter.com", "https://api.x.com")
T = TypeVar("T")


class XSettingsError(ValueError):
    """The X channel is configured in a way that cannot work; the message says how to fix it."""


@dataclass(frozen=True)
class XSettings:
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str
    account_id: str | None = None
    bearer_token: str | None = None
    mode: str = "polling"
    poll_interval: float = 60.0
    api_url: str | None = None
    timeout: float = 30.0


def x_settings(values: dict[str, Any] | None = None) -> XSettings | None:
    """Settings from ``values`` (credentials.yml) falling back to X_* environment variables.

    None when nothing is configured: the channel then stays off (its webhook answers 503).
    """
    try:
        merged = x_values(values)  # credentials.yml's keys first, then X_* (bot/credentials.py)
    except SettingsError as exc:  # a ${VAR} that is not set
        raise XSettingsError(str(exc)) from exc

    def get(key: str) -> str:
        return merged.get(key, "").strip()

    keys = ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
    found = {key: get(key) for key in keys}
    if not any(found.values()):
        return None
    missing = [key for key, value in found.items() if not value]
    if missing:
        raise XSettingsError(
            f"X channel half configured: set {', '.join(missing)} too (docs/x.md, 'Connect X')."
        )
    mode = get("X_MODE").lower() or "polling"
    if mode not in ("polling", "webhook"):
        raise XSettingsError(f"X_MODE must be 'polling' or 'webhook', not {mode!r}")
    try:
        interval = float(get("X_POLL_INTERVAL") or 60)
    except ValueError as exc:
        raise XSettingsError("X_POLL_INTERVAL must be a number of seconds") from exc
    try:
        timeout = float(get("X_TIMEOUT") or 30)
    except ValueError as exc:
        raise XSettingsError("X_TIMEOUT must be a number of seconds (default 30)") from exc
    return XSettings(
        consumer_key=found["X_CONSUMER_KEY"],
        consumer_secret=found["X_CONSUMER_SECRET"],
        access_token=found["X_ACCESS_TOKEN"],
        access_token_secret=found["X_ACCESS_TOKEN_SECRET"],
        account_id=get("X_ACCOUNT_ID") or None,
        bearer_token=get("X_BEARER_TOKEN") or None,
        mode=mode,
        poll_interval=max(0.2, interval),
        api_url=get("X_API_URL") or None,
        timeout=max(0.5, timeout),
    )


def signature(consumer_secret: str, payload: bytes) -> str:
    """X's webhook signature / CRC response: ``sha256=`` + base64 HMAC-SHA256."""
    digest = hmac.new(consumer_secret.encode(), payload, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


# X's crc_token values are short opaque tokens (base64 or URL-safe base64).
CRC_TOKEN = re.compile(r"[A-Za-z0-9_\-+/=]{1,256}")


def crc_token_acceptable(token: str) -> bool:
    """Whether to answer a CRC challenge for ``token``: only if it can never be a delivery's body.

    Why: the CRC answer is HMAC-SHA256(consumer secret, token), the very construction of the
    ``x-twitter-webhooks-signature`` on a delivery. Answered for any token, the CRC endpoint
    signs whatever a stranger sends (``?crc_token={"direct_message_events": …}``) and the
    signature makes that body a valid delivery. A delivery must be a JSON object, so it
    contains ``{`` and ``"``; a token of base64 characters (no braces, quotes or whitespace,
    at most 256 of them) never does, and a token that parses as JSON at all (``123``,
    ``true``) is refused too. The signatures this endpoint still hands out are then
    signatures of bodies the delivery route refuses whatever their signature.

    The other option, answering only while a registration we started is pending, is not
    enough on its own: X repeats the CRC check about hourly on its own initiative and marks
    the webhook invalid (deliveries stop) when it is not answered. The shape rule holds for
    every check, however it was started, so it is the one we rely on.
    """
    if not CRC_TOKEN.fullmatch(token):
        return False
    try:
        json.loads(token)
    except ValueError:
        return True
    return False


POLLED_SIGNATURE_HEADER = "x-supportbot-polled-signature"


def polled_events_key(rasa_auth_token: str) -> str:
    """The key that signs the worker's hand-offs of polled X events to Rasa (polling mode).

    Derived from Rasa's auth token (bot/internal_tokens.py), which only our own processes
    hold, with a label of its own, so the signature proves "our worker", never "X", and is
    worthless anywhere else. The consumer secret is not used: it is shared with X, and a
    signature under it is what the CRC answer used to be.
    """
    return hmac.new(rasa_auth_token.encode(), b"supportbot x polled events v1", hashlib.sha256).hexdigest()


class TimeoutAdapter(HTTPAdapter):
    """Gives every request without an explicit timeout this one (tweepy never passes any)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = (min(5.0, timeout), timeout)  # (connect, read) seconds

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


class BaseURLAdapter(TimeoutAdapter):
    """Sends requests for the X API hosts to another base URL (a proxy, or a test server)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout)
        self.base_url = base_url.rstrip("/")

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        for host in X_HOSTS:
            if request.url and request.url.startswith(host):
                request.url = self.base_url + request.url[len(host) :]
                kwargs["proxies"] = {}  # proxies from the environment were chosen for X's host name
        return super().send(request, **kwargs)


def make_client(settings: XSettings) -> tweepy.Client:
    """tweepy's client whose every request (X or, with ``X_API_URL``, elsewhere) has a timeout."""
    client = tweepy.Client(
        bearer_token=settings.bearer_token,
        consumer_key=settings.consumer_key,
        consumer_secret=settings.consumer_secret,
        access_token=settings.access_token,
        access_token_secret=settings.access_token_secret,
    )
    for scheme in ("https://", "http://"):
        client.session.mount(scheme, TimeoutAdapter(settings.timeout))
    if settings.api_url:
        adapter = BaseURLAdapter(settings.api_url, settings.timeout)
        for host in X_HOSTS:
            client.session.mount(host + "/", adapter)
    return client


class BrandId:
    """The brand's X user id: ``X_ACCOUNT_ID`` if set, else asked of X once (``GET /2/users/me``).

    One per client, shared by whoever needs it (the channel, the poller, the outbox), so a
    process asks X at most once.
    """

    def __init__(self, client: tweepy.Client, known: str | None = None) -> None:
        self.client = client
        self._id = known

    async def __call__(self) -> str:
        if self._id is None:
            self._id = str((await call(self.client.get_me, user_auth=True)).data.id)
        return self._id


async def call(func: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking tweepy call in a thread, turning its errors into outbox decisions.

    429 → retry after the rate-limit reset; 5xx and network errors → retry with backoff;
    other 4xx (text too long, user does not accept DMs) → give up on this item.
    """
    try:
        return await asyncio.to_thread(func, *args, **kwargs)
    except tweepy.errors.TooManyRequests as exc:
        reset = float(exc.response.headers.get("x-rate-limit-reset", time.time() + 60))
        raise RetryLater("X rate limit (429)", retry_after=max(1.0, reset - time.time())) from exc
    except tweepy.errors.TwitterServerError as exc:
        raise RetryLater(f"X server error {exc.response.status_code}") from exc
    except tweepy.errors.Unauthorized as exc:
        raise RetryLater("X refused our credentials (401): check X_ACCESS_TOKEN / X_CONSUMER_KEY") from exc
    except tweepy.errors.HTTPException as exc:
        raise GiveUp(f"X refused it ({exc.response.status_code}): {exc}") from exc
    except (requests.RequestException, tweepy.errors.TweepyException) as exc:
        raise RetryLater(f"X unreachable: {exc!r}") from exc
