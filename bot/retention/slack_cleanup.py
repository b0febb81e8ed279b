"""Delete the Slack messages of a customer's handoffs: the card and its thread (``chat.delete``).

Why through Slack's API and not just our tables: the card shows the customer's name,
email, orders and transcript, and the thread holds their messages, in the agents' Slack
channel. Deleting the parent alone would leave the thread's replies, so every message of the
thread is deleted first, reply by reply, then the card. Which messages: the relay's own record
(``slack_posts``, bot/handoff/desks/slack/posts.py: our posts as Slack answered them, the
agents' replies from their events), not Slack's ``conversations.replies``, which Slack limits to
one request a minute for apps outside its Marketplace. Only a card the record does not know (posted
before the relay kept it) is listed with ``conversations.replies`` (scope ``channels:history`` /
``groups:history``, which the relay has for its events anyway). A bot token may delete only the
bot's own posts (scope ``chat:write``); agents' own replies stay in Slack and are counted as
kept, for the operator to remove by hand or with a workspace admin.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.handoff.desks.slack.posts import SlackPosts
from bot.handoff.settings import SlackSettings

GONE = {"message_not_found", "thread_not_found"}
NOT_OURS = {"cant_delete_message"}


class SlackCleanupError(RuntimeError):
    """Slack could not be asked to delete (outage, wrong token); nothing of ours was erased yet."""


def slack_client(settings: SlackSettings) -> WebClient:
    """The same Web API the relay uses (``SLACK_API_URL`` points tests at the fake Slack)."""
    kwargs: dict[str, Any] = {"token": settings.bot_token, "timeout": 15}
    if settings.api_url:
        kwargs["base_url"] = settings.api_url.rstrip("/") + "/"
    return WebClient(**kwargs)


def delete_threads(
    client: WebClient, cards: Iterable[tuple[str, str]], posts: SlackPosts | None = None
) -> dict[str, int]:
    """Delete each card ``(channel, ts)`` with its thread; counts of deleted and kept messages.

    ``posts``: the relay's record of the threads (default: the configured database's).
    """
    if posts is None:
        from bot.db import Database
        from bot.settings import customer_database_url

        posts = SlackPosts(Database(customer_database_url()))
    counts = {"slack_messages": 0, "slack_messages_kept": 0}
    for channel, ts in cards:
        for message_ts in reversed(_thread(client, posts, channel, ts)):  # replies first, the card last
            try:
                client.chat_delete(channel=channel, ts=message_ts)
                counts["slack_messages"] += 1
            except SlackApiError as exc:
                error = str(exc.response.get("error"))
                if error in NOT_OURS:
                    counts["slack_messages_kept"] += 1
                elif error not in GONE:
                    raise SlackCleanupError(_explain(error, channel)) from exc
    return counts


def _thread(client: WebClient, posts: SlackPosts, channel: str, ts: str) -> list[str]:
    """The ts of the card and of every reply in its thread, parent first (as recorded, else listed)."""
    recorded = posts.thread(channel, ts)
    if any(post.ts == ts for post in recorded):
        return [post.ts for post in recorded]
    return _listed_thread(client, channel, ts)


def _listed_thread(client: WebClient, channel: str, ts: str) -> list[str]:
    """A card posted before ``slack_posts`` existed: its thread as Slack lists it, parent first."""
    found: list[str] = []
    cursor: str | None = None
    while True:
        try:
            page = client.conversations_replies(channel=channel, ts=ts, cursor=cursor, limit=200)
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in GONE:
                return found
            raise SlackCleanupError(_explain(error, channel)) from exc
        found += [
            str(message["ts"]) for message in page.get("messages") or [] if str(message["ts"]) not in found
        ]
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not page.get("has_more") or not cursor:
            return found


def _explain(error: str, channel: str) -> str:
    return (
        f"Slack refused to list or delete the handoff messages in channel {channel} ({error}); check "
        "SLACK_BOT_TOKEN (scopes chat:write, channels:history, groups:history) and that the bot is in "
        "the channel, then run erase again (nothing was erased yet), or pass --keep-slack"
    )
