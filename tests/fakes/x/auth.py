"""Who may call the fake X API, and how often: OAuth 1.0a / bearer checks, rate-limit windows.

Like X: ``Bearer <bearer_token>`` is app-only and refused (403) on user-context endpoints;
OAuth 1.0a needs the consumer key, the access token and a valid HMAC-SHA1 signature over
the ``https://api.twitter.com`` or ``https://api.x.com`` URL the client signed before our
transport adapter re-pointed it. X's errors are RFC 7807 problem bodies.
"""

from __future__ import annotations

import hmac
import http
import math
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

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
#: Endpoints X refuses with an app-only bearer token.
USER_CONTEXT_ONLY = {"users_me", "dm_events", "dm_create", "tweet_create"}
RATE_WINDOW_SECONDS = 15 * 60
_API_HOSTS = ("https://api.twitter.com", "https://api.x.com")


def problem(
    status: int, detail: str | None = None, *, title: str | None = None, kind: str = "about:blank"
) -> dict:
    """An RFC 7807 problem body the way X v2 shapes its errors."""
    phrase = http.HTTPStatus(status).phrase
    return {"title": title or phrase, "detail": detail or phrase, "type": kind, "status": status}


def invalid_request(message: str, parameter: str | None = None, value: Any = None) -> dict[str, Any]:
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


@dataclass(frozen=True)
class Credentials:
    """The app's keys and the brand's access token that the fake accepts."""

    consumer_key: str = "fake-consumer-key"
    consumer_secret: str = "fake-consumer-secret"
    access_token: str = "1500000000000000000-fakeaccesstoken"
    access_token_secret: str = "fake-access-token-secret"
    bearer_token: str = "fake-bearer-token"

    def refusal(self, endpoint: str, request: web.Request) -> tuple[int, dict[str, Any]] | None:
        """None when the request may call `endpoint`, else (status, X-style body)."""
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "bearer" and credential.strip() == self.bearer_token:
            if endpoint not in USER_CONTEXT_ONLY:
                return None
            return 403, problem(
                403,
                "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
                "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                title="Unsupported Authentication",
                kind="https://api.twitter.com/2/problems/unsupported-authentication",
            )
        if scheme.lower() == "oauth" and self._oauth1_valid(request, header):
            return None
        return 401, problem(401)

    def _oauth1_valid(self, request: web.Request, header: str) -> bool:
        try:
            oauth = {k: oauth_utils.unescape(v) for k, v in oauth_utils.parse_authorization_header(header)}
        except (ValueError, TypeError):
            return False
        given = oauth.get("oauth_signature")
        if (
            oauth.get("oauth_consumer_key") != self.consumer_key
            or oauth.get("oauth_token") != self.access_token
            or oauth.get("oauth_signature_method") != "HMAC-SHA1"
            or not given
        ):
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


class RateWindow:
    """One endpoint's 15-minute window; only `enforced` (set by `FakeX.rate_limit`) ever refuses.

    Every response carries the `x-rate-limit-*` headers, but a fast test poller must not trip
    over X's real (tiny) quotas by accident, so an exhausted window that is not enforced restarts.
    """

    def __init__(self, limit: int, now: float) -> None:
        self.limit = limit
        self.remaining = limit
        self.reset_at = now + RATE_WINDOW_SECONDS
        self.enforced = False

    def take(self, now: float) -> bool:
        """Count one call; False when it must be refused with 429."""
        if now >= self.reset_at or (self.remaining <= 0 and not self.enforced):
            self.remaining, self.reset_at, self.enforced = self.limit, now + RATE_WINDOW_SECONDS, False
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True

    def headers(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(max(self.remaining, 0)),
            "x-rate-limit-reset": str(math.ceil(self.reset_at)),
        }
