"""Writing down the messages of handoff threads from Slack's events (bot/handoff/desks/slack/posts.py).

Two sources, both registered on the relay's Bolt app by :func:`register_post_events`:

- ``message_metadata_posted``: Slack tells the apps subscribed to our metadata event type
  (slack_app_manifest.yml ``metadata_subscriptions``, scope ``metadata.message:read``) that a
  message carrying it was posted. For our own posts this is the proof a post went out even when
  ``chat.postMessage``'s answer was lost, so the outbox does not post it twice. Only our own
  app's posts count: the subscription is for any app (our app id is not known when the manifest
  is pasted), so an event whose ``app_id`` is not the app it is delivered to, or whose
  ``bot_id`` / ``user_id`` is not our bot's (``auth.test``, in Bolt's context), is ignored —
  another app in the workspace could otherwise mark an item delivered that never was, and the
  message would be lost.
- ``message``: a person's message in the thread of one of our posts (a card), written down with
  their user id so that erasing the customer knows the whole thread. This is a global
  middleware, not a listener: Bolt runs only the first listener that matches a request, and the
  relay's own ``message`` listener (bot/handoff/slack_app.py) must keep running; the middleware
  runs after the workspace/channel check and always hands on to it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.db import run_sync
from bot.handoff.desks.slack.desk import DELIVERY_EVENT
from bot.handoff.desks.slack.posts import BOT, KEY_LENGTH, SlackPosts

logger = logging.getLogger(__name__)

#: Message subtypes that are not a new message by a person (edits, joins, bot posts).
NOT_NEW = frozenset({
    "bot_message", "message_changed", "message_deleted", "channel_join", "channel_leave",
    "message_replied", "channel_topic", "channel_purpose",
})  # fmt: skip


def ours(event: Mapping[str, Any], body: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """Whether a ``message_metadata_posted`` event is about a post of our own app's bot."""
    our_app, our_bot = body.get("api_app_id"), context.get("bot_id")
    if not our_app or not our_bot or event.get("app_id") != our_app or event.get("bot_id") != our_bot:
        return False
    our_user = context.get("bot_user_id")
    return not (event.get("user_id") and our_user and event.get("user_id") != our_user)


def delivery(event: Mapping[str, Any]) -> tuple[str, str, str, str | None] | None:
    """(channel, ts, key, thread_ts) of one of our delivery posts, or None if it is not one."""
    metadata = event.get("metadata") if isinstance(event.get("metadata"), Mapping) else {}
    payload = metadata.get("event_payload") if isinstance(metadata.get("event_payload"), Mapping) else {}
    key, channel, ts = payload.get("key"), event.get("channel_id"), event.get("message_ts")
    if metadata.get("event_type") != DELIVERY_EVENT or not isinstance(key, str) or not key:
        return None
    if len(key) > KEY_LENGTH or not isinstance(channel, str) or not isinstance(ts, str):
        return None
    thread_ts = payload.get("thread_ts")
    return channel, ts, key, thread_ts if isinstance(thread_ts, str) and thread_ts else None


def thread_message(event: Mapping[str, Any]) -> bool:
    """A person's new message inside a thread (not a bot's post, not an edit or a join)."""
    if event.get("type") != "message" or event.get("bot_id") or event.get("subtype") in NOT_NEW:
        return False
    thread_ts, ts = event.get("thread_ts"), event.get("ts")
    return bool(event.get("user") and event.get("channel") and thread_ts and ts and thread_ts != ts)


def register_post_events(app: AsyncApp, posts: SlackPosts) -> None:
    """Record our posts from ``message_metadata_posted`` and people's thread messages from ``message``."""

    @app.event("message_metadata_posted")
    async def on_metadata_posted(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        found = delivery(event)
        if found is None:
            return  # another event type (the subscription is per type; nothing of ours)
        if not ours(event, body, context):
            logger.warning(
                "slack: ignored a %s post from app %s / bot %s: not ours, so it proves no delivery",
                DELIVERY_EVENT, event.get("app_id"), event.get("bot_id"),
            )  # fmt: skip
            return
        channel, ts, key, thread_ts = found
        if await run_sync(posts.record, channel, ts, thread_ts=thread_ts, author=BOT, key=key):
            logger.info("slack: post %s (%s) recorded from its metadata event", ts, key)

    @app.middleware
    async def record_thread_messages(body: dict[str, Any], next: Callable[[], Awaitable[Any]]) -> Any:
        event = body.get("event") if isinstance(body.get("event"), Mapping) else None
        if event is not None and event.get("type") == "message":
            await _record_message(posts, event)
        return await next()


async def _record_message(posts: SlackPosts, event: Mapping[str, Any]) -> None:
    """A person's reply in the thread of one of our posts, written down; a deletion forgotten."""
    channel = str(event.get("channel") or "")
    if event.get("subtype") == "message_deleted":
        previous = event.get("previous_message") if isinstance(event.get("previous_message"), Mapping) else {}
        deleted = str(event.get("deleted_ts") or previous.get("ts") or "")
        if channel and deleted and previous.get("thread_ts") and not previous.get("bot_id"):
            await run_sync(posts.forget, channel, deleted)
        return
    if not thread_message(event):
        return
    parent = await run_sync(posts.get, channel, str(event["thread_ts"]))
    if parent is None or not parent.ours:
        return  # not the thread of one of our cards: nothing of ours to erase there
    await run_sync(
        posts.record, channel, str(event["ts"]), thread_ts=str(event["thread_ts"]), author=str(event["user"])
    )
