"""The X channel's background work, run once by the worker process: polling X, delivering the outbox.

Why not inside Rasa: every Rasa replica would poll X (N times the API quota, with the
replicas racing for the same DM) and run its own outbox loop. Rasa keeps only what must
answer HTTP, the webhook (the CRC challenge and signed deliveries); the worker runs the
rest, once.

Polling turns what it reads into the Account Activity payload X's webhook would have sent,
signs it with a key only our processes hold (``x_api.polled_events_key``, not the consumer
secret) and POSTs it to Rasa's ``/webhooks/twitter/polled``. So one code path
(bot/channels/x.py) handles an X event however it arrived (deduplication, the brand's own
messages, public answer or DM), and the poller moves its cursor past an event only after
Rasa answered 200 (Rasa records an event as handled only once it was): a failure or a
Rasa restart delays a message, it never loses or repeats one.

Each poll pages through everything newer than the cursor (``since_id`` and
``pagination_token`` for mentions, pages of DM events down to the cursor), at most
``MAX_PAGES`` pages per kind (X's mention timeline itself stops at the newest 800). Pages
come newest first, so past that bound the oldest are skipped, with a warning: a cycle
must end, and that much traffic between two polls wants webhook mode.
Every X call has a timeout (``X_TIMEOUT``, bot/channels/x_api.py), so a stalled
connection fails the poll, which the next cycle repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import tweepy

from bot.channels.x_api import (
    POLLED_SIGNATURE_HEADER,
    BrandId,
    XSettings,
    call,
    make_client,
    polled_events_key,
    signature,
)
from bot.channels.x_sent import DUPLICATE, SentDirectMessages
from bot.channels.x_store import SEND_DM, SEND_TWEET, XStore
from bot.internal_tokens import internal_tokens
from bot.outbox import GiveUp, OutboxRecord, OutboxWorker, RetryLater

logger = logging.getLogger(__name__)

POLLED_PATH = "/webhooks/twitter/polled"
MAX_PAGES = 8  # of 100 mentions / DM events per poll
OVERFLOW = (
    "X polling: more than %d pages of %s since the last poll; the oldest are skipped (use X_MODE=webhook)"
)
Forward = Callable[[dict[str, Any]], Awaitable[None]]


def dm_activity(brand_id: str, event: Any) -> dict[str, Any]:
    """A polled DM event (API v2) as the Account Activity webhook delivers it."""
    data: dict[str, Any] = {"text": event.text or ""}
    attachments = getattr(event, "attachments", None)
    if attachments:
        data["attachment"] = {"type": "media", "media": attachments}
    create = {"sender_id": str(event.sender_id), "message_data": data}
    message = {"type": "message_create", "id": str(event.id), "message_create": create}
    return {"for_user_id": brand_id, "direct_message_events": [message]}


def mention_activity(brand_id: str, tweet: Any, username: str) -> dict[str, Any]:
    """A polled mention (API v2) as the Account Activity webhook delivers it."""
    created = {
        "id_str": str(tweet.id), "text": tweet.text,
        "user": {"id_str": str(tweet.author_id), "screen_name": username},
        "entities": {"user_mentions": [{"id_str": brand_id}]},
    }  # fmt: skip
    return {"for_user_id": brand_id, "tweet_create_events": [created]}


class RasaXWebhook:
    """Hands an activity payload to Rasa's X channel (``/webhooks/twitter/polled``), signed.

    ``signing_key`` is :func:`polled_events_key` of Rasa's auth token. A non-200 answer
    (500: the event failed and stays unseen; 401: the keys disagree) raises RetryLater,
    so the poller keeps its cursor and offers the event again next cycle.
    """

    def __init__(
        self, rasa_url: str, signing_key: str, timeout: float = 120.0, path: str = POLLED_PATH
    ) -> None:
        self.url = rasa_url.rstrip("/") + path
        self.signing_key = signing_key
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            POLLED_SIGNATURE_HEADER: signature(self.signing_key, body),
        }
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.post(self.url, data=body, headers=headers) as answer:
                if answer.status != 200:
                    text = (await answer.text())[:200]
                    raise RetryLater(f"Rasa's X channel {self.url} answered {answer.status}: {text}", 1.0)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RetryLater(f"Rasa's X channel {self.url} is unreachable ({exc!r})", 1.0) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class XPoller:
    """Reads new mentions and DMs from the cursors in the database and forwards each once."""

    def __init__(
        self,
        settings: XSettings,
        store: XStore,
        client: tweepy.Client,
        forward: Forward,
        brand_id: BrandId | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.forward = forward
        self.brand_id = brand_id or BrandId(client, settings.account_id)

    async def poll_once(self) -> None:
        """Forward every mention and DM newer than the stored cursors (first run: from now)."""
        brand = await self.brand_id()
        await self._poll_mentions(brand)
        await self._poll_dms(brand)

    async def _poll_mentions(self, brand: str) -> None:
        since = await asyncio.to_thread(self.store.cursor, "mentions")
        tweets: list[Any] = []
        users: dict[str, str] = {}
        token = None
        for _page in range(MAX_PAGES):
            params: dict[str, Any] = {
                "expansions": ["author_id"], "user_fields": ["username"], "max_results": 100,
                "tweet_fields": ["author_id", "conversation_id", "created_at"], "user_auth": True,
            }  # fmt: skip
            if since and since != "0":
                params["since_id"] = since
            if token:
                params["pagination_token"] = token
            found = await call(self.client.get_users_mentions, brand, **params)
            tweets += found.data or []
            users.update({str(u.id): u.username for u in (found.includes or {}).get("users", [])})
            token = (found.meta or {}).get("next_token")
            if since is None or not token:  # first start: the newest page says where "now" is
                break
        else:
            logger.warning(OVERFLOW, MAX_PAGES, "mentions")
        tweets.sort(key=lambda tweet: int(tweet.id))
        if since is None:  # first start: answer what comes from now on, not the account's history
            await asyncio.to_thread(self.store.set_cursor, "mentions", str(tweets[-1].id) if tweets else "0")
            return
        for tweet in tweets:
            await self.forward(mention_activity(brand, tweet, users.get(str(tweet.author_id), "")))
            await asyncio.to_thread(self.store.set_cursor, "mentions", str(tweet.id))

    async def _poll_dms(self, brand: str) -> None:
        since = await asyncio.to_thread(self.store.cursor, "dm")
        newer: list[Any] = []
        token = None
        for _page in range(MAX_PAGES):
            params: dict[str, Any] = {
                "event_types": "MessageCreate", "max_results": 100, "user_auth": True,
                "dm_event_fields": ["id", "text", "sender_id", "created_at", "attachments",
                                    "dm_conversation_id"],
            }  # fmt: skip
            if token:
                params["pagination_token"] = token
            page = await call(self.client.get_direct_message_events, **params)
            events = page.data or []
            fresh = [e for e in events if since is None or int(e.id) > int(since)]
            newer += fresh
            token = (page.meta or {}).get("next_token")
            if since is None or len(fresh) < len(events) or not token:
                break
        else:
            logger.warning(OVERFLOW, MAX_PAGES, "DM events")
        newer.sort(key=lambda event: int(event.id))
        if since is None:
            await asyncio.to_thread(self.store.set_cursor, "dm", str(newer[-1].id) if newer else "0")
            return
        for event in newer:
            await self.forward(dm_activity(brand, event))
            await asyncio.to_thread(self.store.set_cursor, "dm", str(event.id))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            wait = self.settings.poll_interval
            try:
                await self.poll_once()
            except RetryLater as exc:
                wait = max(wait, exc.retry_after or 5.0)
                logger.warning("X polling: %s; next poll in %.1f s", exc, wait)
            except Exception:
                logger.exception("X polling failed; next poll in %.1f s", wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)


class XDelivery:
    """Sends one outbox item (a DM or a reply tweet) to X as the brand, once (bot/channels/x_sent.py)."""

    def __init__(self, client: tweepy.Client, brand_id: BrandId | None = None) -> None:
        self.client = client
        self.sent = SentDirectMessages(client, brand_id or BrandId(client))

    async def __call__(self, item: OutboxRecord) -> None:
        payload = item.payload
        if item.kind == SEND_DM:
            user, text = payload["user_id"], payload["text"]
            if item.in_doubt and await self.sent.already_sent(user, text, item.created_at):
                logger.info("outbox item %s: the DM reached X before; not sending it twice", item.id)
                return
            await call(self.client.create_direct_message, participant_id=user, text=text, user_auth=True)
        elif item.kind == SEND_TWEET:
            try:
                await call(
                    self.client.create_tweet,
                    text=payload["text"],
                    in_reply_to_tweet_id=payload["in_reply_to"],
                    user_auth=True,
                )
            except GiveUp as exc:
                if not (item.in_doubt and DUPLICATE in str(exc).lower()):
                    raise
                logger.info(
                    "outbox item %s: X already has this reply (duplicate refused); delivered", item.id
                )
        else:
            logger.error("outbox item %s has unknown kind %r; dropped", item.id, item.kind)


async def run_x(settings: XSettings, store: XStore, rasa_url: str, stop: asyncio.Event) -> None:
    """The outbox delivery loop and (in polling mode) the poller, until ``stop`` is set."""
    client = make_client(settings)
    brand_id = BrandId(client, settings.account_id)  # asked of X once, for both
    delivery = XDelivery(client, brand_id)
    running = [OutboxWorker(store.outbox(), delivery, interval=0.2).run(stop)]
    webhook = RasaXWebhook(rasa_url, polled_events_key(internal_tokens().rasa_auth_token))
    if settings.mode == "polling":
        running.append(XPoller(settings, store, client, webhook, brand_id).run(stop))
    logger.info("X: delivering the outbox%s", ", polling X for Rasa" if settings.mode == "polling" else "")
    try:
        await asyncio.gather(*running)
    finally:
        await webhook.close()
