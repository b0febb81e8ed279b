"""The X API v2 endpoints the bot calls, and nothing more.

Polling (bot/channels/x_worker.py): ``GET /2/users/me``, ``GET /2/users/{id}/mentions``,
``GET /2/dm_events``; replies: ``POST /2/dm_conversations/with/{id}/messages``,
``POST /2/tweets``; ``supportbot x-webhook`` (bot/channels/x_webhook.py): ``POST|GET
/2/webhooks`` and ``POST|GET /2/account_activity/webhooks/{id}/subscriptions/all``.
Handlers run with the fake's lock held and return (status, JSON body).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable
from typing import Any

import requests

from tests.fakes.x.auth import invalid_request, problem
from tests.fakes.x.records import (
    DEFAULT_DM_FIELDS,
    DEFAULT_TWEET_FIELDS,
    DEFAULT_USER_FIELDS,
    DM_MAX_CHARS,
    TWEET_MAX_WEIGHT,
    XRecords,
    csv_param,
    tweet_length,
)
from tests.fakes.x.webhooks import crc_response

Handler = Callable[[dict[str, str], dict[str, str], Any], tuple[int, Any]]


class XApi:
    """Endpoint handlers over the account's records; `routes()` is what the fake serves."""

    def __init__(self, records: XRecords, consumer_secret: str) -> None:
        self.records = records
        self.consumer_secret = consumer_secret
        self.webhooks: list[dict[str, Any]] = []
        self.subscriptions: set[str] = set()

    def routes(self) -> list[tuple[str, str, str, Handler]]:
        """(HTTP method, path, endpoint key, handler); the key names faults and rate limits."""
        return [
            ("GET", "/2/users/me", "users_me", self.users_me),
            ("GET", "/2/dm_events", "dm_events", self.dm_events),
            ("GET", "/2/users/{id}/mentions", "mentions", self.mentions),
            ("POST", "/2/dm_conversations/with/{participant_id}/messages", "dm_create", self.dm_create),
            ("POST", "/2/tweets", "tweet_create", self.tweet_create),
            ("POST", "/2/webhooks", "webhooks", self.webhook_create),
            ("GET", "/2/webhooks", "webhooks", self.webhook_list),
            ("POST", "/2/account_activity/webhooks/{webhook_id}/subscriptions/all", "subscriptions",
             self.subscribe),
            ("GET", "/2/account_activity/webhooks/{webhook_id}/subscriptions/all", "subscriptions",
             self.subscription),
        ]  # fmt: skip

    # ------------------------------------------------------------------ reading

    def users_me(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        me = self.records.users[self.records.brand_id]
        return 200, {
            "data": self.records.select(me, DEFAULT_USER_FIELDS, csv_param(params.get("user.fields")))
        }

    def dm_events(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        limit = _max_results(params, 1, 100, 100)
        if isinstance(limit, dict):
            return 400, limit
        events = list(reversed(self.records.dms))
        types = csv_param(params.get("event_types"))
        if types:
            events = [e for e in events if e["event_type"] in types]
        paged = _page("dm", events, params, limit)
        if isinstance(paged, dict):
            return 400, paged
        page, next_token = paged
        wanted = csv_param(params.get("dm_event.fields"))
        result: dict[str, Any] = {}
        if page:
            result["data"] = [self.records.select(e, DEFAULT_DM_FIELDS, wanted) for e in page]
        result["meta"] = {"result_count": len(page), **({"next_token": next_token} if next_token else {})}
        return 200, result

    def mentions(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        user_id = match["id"]
        if not user_id.isdigit():
            return 400, invalid_request(
                f"The `id` query parameter value [{user_id}] is not valid", "id", user_id
            )
        limit = _max_results(params, 5, 100, 10)
        if isinstance(limit, dict):
            return 400, limit
        since = params.get("since_id")
        if since is not None and not since.isdigit():
            return 400, invalid_request(f"The `since_id` query parameter value [{since}] is not valid")
        tweets = [t for t in self.records.mentions_of(user_id) if since is None or int(t["id"]) > int(since)]
        paged = _page("mentions", tweets, params, limit)
        if isinstance(paged, dict):
            return 400, paged
        page, next_token = paged
        if not page:
            return 200, {"meta": {"result_count": 0}}
        expansions = csv_param(params.get("expansions"))
        wanted = csv_param(params.get("tweet.fields")) | ({"author_id"} & expansions)
        result: dict[str, Any] = {
            "data": [self.records.select(t, DEFAULT_TWEET_FIELDS, wanted) for t in page]
        }
        if "author_id" in expansions:
            users = self.records.public_users(
                [t["author_id"] for t in page], csv_param(params.get("user.fields"))
            )
            result["includes"] = {"users": users}
        meta = {"result_count": len(page), "newest_id": page[0]["id"], "oldest_id": page[-1]["id"]}
        result["meta"] = {**meta, **({"next_token": next_token} if next_token else {})}
        return 200, result

    # ------------------------------------------------------------------ writing

    def dm_create(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        participant = match["participant_id"]
        if not participant.isdigit() or participant == self.records.brand_id:
            return 400, invalid_request(
                f"The `participant_id` path parameter value [{participant}] is not valid",
                "participant_id",
                participant,
            )
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return 400, invalid_request("`text` must not be empty.", "text", text)
        if len(text) > DM_MAX_CHARS:
            return 400, invalid_request(
                f"`text` is {len(text)} characters; Direct Messages allow at most {DM_MAX_CHARS}.",
                "text",
                len(text),
            )
        event = self.records.record_dm(self.records.brand_id, participant, text, "api")
        return 201, {"data": {"dm_conversation_id": event["dm_conversation_id"], "dm_event_id": event["id"]}}

    def tweet_create(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return 400, invalid_request("`text` is required unless media is attached.", "text", text)
        if tweet_length(text) > TWEET_MAX_WEIGHT:
            return 400, problem(
                400,
                "Your Tweet text is too long. For more information on how Twitter determines text length "
                "see https://github.com/twitter/twitter-text.",
            )
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None and str(reply_to) not in self.records.tweets:
            return 403, problem(
                403, "You attempted to reply to a Tweet that is deleted or not visible to you."
            )
        # X refuses a duplicate of a recent tweet of ours; the fake only the narrowest case (the
        # same text in reply to the same tweet), so tests of different customers stay independent.
        if any(
            (t["author_id"], t["text"], t["in_reply_to"]) == (self.records.brand_id, text, str(reply_to))
            for t in self.records.tweets.values()
            if reply_to is not None
        ):
            return 403, problem(403, "You are not allowed to create a Tweet with duplicate content.")
        tweet = self.records.record_tweet(
            self.records.brand_id, text, str(reply_to) if reply_to else None, "api"
        )
        return 201, {
            "data": {"id": tweet["id"], "text": tweet["text"], "edit_history_tweet_ids": [tweet["id"]]}
        }

    # ------------------------------------------------------------------ webhooks

    def webhook_create(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        """Register a webhook URL: like X, run a CRC check against it first."""
        url = str((body or {}).get("url") or "")
        token = secrets.token_urlsafe(16)
        try:
            reply = requests.get(url, params={"crc_token": token}, timeout=10)
            valid = reply.status_code == 200 and reply.json().get("response_token") == crc_response(
                self.consumer_secret, token
            )
        except (requests.RequestException, ValueError):
            valid = False
        if not valid:
            return 400, problem(400, f"CRC check failed for {url}", title="Invalid Request")
        webhook = {"id": str(len(self.webhooks) + 1_000), "url": url, "valid": True,
                   "created_at": "2026-11-23T00:00:00.000Z"}  # fmt: skip
        self.webhooks.append(webhook)
        return 200, {"data": webhook}

    def webhook_list(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        return 200, ({"data": list(self.webhooks)} if self.webhooks else {"meta": {"result_count": 0}})

    def subscribe(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        if not any(w["id"] == match["webhook_id"] for w in self.webhooks):
            return 404, problem(404, "webhook not found", title="Not Found")
        self.subscriptions.add(match["webhook_id"])
        return 200, {"data": {"subscribed": True}}

    def subscription(self, match: dict[str, str], params: dict[str, str], body: Any) -> tuple[int, Any]:
        return 200, {"data": {"subscribed": match["webhook_id"] in self.subscriptions}}


def _max_results(params: dict[str, str], low: int, high: int, default: int) -> int | dict[str, Any]:
    raw = params.get("max_results")
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        message = f"The `max_results` query parameter value [{raw}] is not between {low} and {high}"
        return invalid_request(message, "max_results", raw)
    return int(raw)


def _page(
    kind: str, items: list[dict[str, Any]], params: dict[str, str], limit: int
) -> tuple[list[dict[str, Any]], str | None] | dict[str, Any]:
    """Newest-first `items` after the pagination cursor: (page, next_token) or an error body."""
    token = params.get("pagination_token")
    if token:
        cursor = _untoken(kind, token)
        if cursor is None:
            message = f"The `pagination_token` query parameter value [{token}] is not valid"
            return invalid_request(message, "pagination_token", token)
        items = [i for i in items if int(i["id"]) < int(cursor)]
    page = items[:limit]
    next_token = _token(kind, page[-1]["id"]) if len(items) > limit else None
    return page, next_token


def _token(kind: str, cursor: str) -> str:
    return base64.b32encode(f"{kind}:{cursor}".encode()).decode().rstrip("=")


def _untoken(kind: str, token: str) -> str | None:
    try:
        decoded = base64.b32decode(token + "=" * (-len(token) % 8)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, cursor = decoded.partition(":")
    return cursor if prefix == kind and cursor.isdigit() else None
