"""The Slack desk: handoff cards in the handoff channel (or a routed team's), the conversation in each
card's thread.

Renders with this package's Block Kit builders and talks to Slack's Web API with the bot
token. Slack errors become ``RetryLater`` for the outbox; the ones a retry cannot fix say
in the log which setting to change, and the ones no retry of *this* message can fix
(``PERMANENT_ERRORS``) become ``GiveUp``: a dead letter, not a queue blocked for good.

``chat.postMessage`` has no idempotency key, so every post carries the outbox item's key
in Slack message metadata (``DELIVERY_EVENT``) and is written down in our own table
(bot/handoff/desks/slack/posts.py) when Slack answers, and again when Slack's
``message_metadata_posted`` event arrives (the answer may have been lost); after a crash or a
timeout the relay asks :meth:`SlackDesk.find_delivery`, which looks the key up there. Slack is
never read back (``conversations.history`` / ``.replies`` are limited to one request a minute
for apps outside the Marketplace). Posts are spaced per channel (bot/handoff/desks/slack/pacing.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.db import run_sync
from bot.handoff.desks.base import CardRef, CardState, Notice
from bot.handoff.desks.slack.card import card_blocks, card_text
from bot.handoff.desks.slack.pacing import ChannelPacer
from bot.handoff.desks.slack.posts import SlackPosts
from bot.handoff.desks.slack.thread import customer_message_text, status_text
from bot.handoff.desks.slack.transcript import transcript_modal
from bot.outbox import GiveUp, RetryLater

# Slack errors that a retry cannot fix; the outbox keeps retrying slowly anyway (an admin
# may fix the setup) but the log says plainly what to do.
CONFIGURATION_ERRORS = {
    "channel_not_found": "the channel in SLACK_HANDOFF_CHANNEL does not exist",
    "not_in_channel": "invite the bot to the handoff channel (/invite @yourbot)",
    "invalid_auth": "SLACK_BOT_TOKEN is wrong or revoked",
    "not_authed": "SLACK_BOT_TOKEN is missing",
    "missing_scope": "the Slack app lacks a scope; reinstall it from slack_app_manifest.yml",
    "account_inactive": "the Slack app was uninstalled",
}
# Errors about this one message (retrying it cannot help): the item becomes a dead letter.
PERMANENT_ERRORS = {
    "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "too_many_attachments",
    "message_not_found", "cant_update_message", "edit_window_closed", "invalid_metadata_format",
    "invalid_metadata_schema", "metadata_too_large", "thread_not_found", "is_archived",
}  # fmt: skip
UNKNOWN_AGENT = "A member of our team"
# The message-metadata event type of our posts; its payload is {"key": <outbox item key>}
# (and "thread_ts" for a thread reply, so the event alone says where the post is).
DELIVERY_EVENT = "hearthlink_delivery"


class SlackDesk:
    """Posts to one Slack channel with the Web API (bot token)."""

    name = "slack"

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        posts: SlackPosts | None = None,
        *,
        pacer: ChannelPacer | None = None,
    ) -> None:
        """``posts``: where our posts are written down and looked up after a crash (without it a
        post in doubt is sent again: at least once); ``pacer``: the per-channel post schedule."""
        self.client = client
        self.channel = channel
        self.posts = posts
        self.pacer = pacer or ChannelPacer()
        self._names: dict[str, str] = {}

    async def show_card(
        self,
        packet: Mapping[str, Any],
        state: CardState,
        card: CardRef | None,
        *,
        key: str | None = None,
        channel: str | None = None,
    ) -> CardRef:
        """A new card in ``channel`` (the routed team's; default the handoff channel), mentioning the
        team's user group once; an update re-renders it in place without the mention."""
        text, blocks = card_text(packet, state), card_blocks(packet, state, new=card is None)
        if card is None:
            return await self._post(text, blocks, key=key, channel=channel)
        await self._call(self.client.chat_update, channel=card.channel, ts=card.ts, text=text, blocks=blocks)
        return card

    async def post_customer_message(self, card: CardRef, text: str, *, key: str | None = None) -> None:
        await self._post(customer_message_text(text), thread_ts=card.ts, key=key)

    async def post_notice(
        self, card: CardRef, kind: Notice, *, key: str | None = None, **fields: Any
    ) -> None:
        await self._post(status_text(kind, **fields), thread_ts=card.ts, key=key)

    async def post_survey_followup(
        self, card: CardRef, *, destination: str | None, key: str | None = None, **fields: Any
    ) -> CardRef:
        """An unhappy survey answer: in ``destination`` (a channel id) with a link to the card's
        thread, or in the thread itself. The link is Slack's own permalink (``chat.getPermalink``)."""
        link = await self._call(self.client.chat_getPermalink, channel=card.channel, message_ts=card.ts)
        text = status_text(Notice.SURVEY_FOLLOWUP, **fields, link=str(link.get("permalink") or ""))
        if destination:
            return await self._post(text, key=key, channel=destination)
        return await self._post(text, thread_ts=card.ts, key=key)

    async def permalink(self, card: CardRef) -> str:
        """Slack's own link to the card (``chat.getPermalink``); "" if Slack cannot give one now."""
        try:
            answer = await self.client.chat_getPermalink(channel=card.channel, message_ts=card.ts)
        except (SlackApiError, OSError, TimeoutError):
            return ""
        return str(answer.get("permalink") or "")

    async def find_delivery(
        self, key: str, card: CardRef | None, *, channel: str | None = None
    ) -> CardRef | None:
        """Our post carrying ``key`` (``card``'s thread reply, or a top-level post in ``channel``), as
        written down when Slack answered or when its ``message_metadata_posted`` event came.

        No Slack call: what we posted is in our table (bot/handoff/desks/slack/posts.py).
        """
        if self.posts is None:
            return None  # nowhere to look: posted again, at least once
        post = await run_sync(self.posts.find, key)
        return CardRef(post.channel, post.ts) if post is not None else None

    def transcript(
        self, packet: Mapping[str, Any], lines: Sequence[Mapping[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The "Full transcript" modal view (``views.open``)."""
        return transcript_modal(packet, lines)

    async def agent_name(self, user_id: str) -> str:
        """The agent's display name as customers should see it (cached per process)."""
        if user_id not in self._names:
            try:
                user = (await self.client.users_info(user=user_id))["user"]
            except SlackApiError:
                return UNKNOWN_AGENT
            profile = user.get("profile") or {}
            name = profile.get("display_name") or user.get("real_name") or profile.get("real_name")
            self._names[user_id] = (name or user.get("name") or UNKNOWN_AGENT).split()[0]
        return self._names[user_id]

    async def _post(
        self,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        key: str | None = None,
        channel: str | None = None,
    ) -> CardRef:
        """Post in the channel's turn (the pacer), then write the post down (``self.posts``)."""
        where = channel or self.channel
        turn = key or f"unkeyed:{uuid.uuid4().hex}"  # the slot's holder while this post waits
        # Asked again after the wait: a 429 meanwhile (``hold``) moves the slot.
        while (wait := self.pacer.slot(where, turn)) > 0:
            if wait > self.pacer.max_wait:  # queued in the outbox, not in this process
                raise RetryLater(f"pacing posts in {where} (Slack: about 1 a second)", retry_after=wait)
            await asyncio.sleep(wait)
        metadata = None
        if key:
            payload = {"key": key, **({"thread_ts": thread_ts} if thread_ts else {})}
            metadata = {"event_type": DELIVERY_EVENT, "event_payload": payload}
        try:
            response = await self._call(
                self.client.chat_postMessage,
                channel=where, text=text, blocks=blocks, thread_ts=thread_ts,
                unfurl_links=False, unfurl_media=False, metadata=metadata,
            )  # fmt: skip
        except RetryLater as exc:
            if _status(exc) == 429:  # another process posts here too: the whole channel waits
                self.pacer.hold(where, exc.retry_after or 1.0)
            raise
        except GiveUp:
            self.pacer.done(where, turn)
            raise
        self.pacer.done(where, turn)
        posted = CardRef(str(response["channel"]), str(response["ts"]))
        if self.posts is not None:
            message = response.get("message") or {}
            await run_sync(
                self.posts.record, posted.channel, posted.ts,
                thread_ts=str(message.get("thread_ts") or thread_ts or "") or None, key=key,
            )  # fmt: skip
        return posted

    @staticmethod
    async def _call(method: Any, **kwargs: Any) -> Any:
        try:
            return await method(**kwargs)
        except SlackApiError as exc:
            status = exc.response.status_code
            if status == 429:
                retry_after = float(
                    exc.response.headers.get("Retry-After", exc.response.headers.get("retry-after", 1))
                )
                raise RetryLater("Slack rate limit (429)", retry_after=retry_after) from exc
            error = exc.response.get("error") if hasattr(exc.response, "get") else None
            if str(error) in PERMANENT_ERRORS:
                raise GiveUp(f"Slack refused it: {error}") from exc
            hint = CONFIGURATION_ERRORS.get(str(error))
            raise RetryLater(f"Slack error {status} {error}" + (f": {hint}" if hint else "")) from exc
        except (OSError, TimeoutError) as exc:  # aiohttp/connection errors derive from OSError
            raise RetryLater(f"Slack unreachable: {exc!r}") from exc


def _status(exc: BaseException) -> int | None:
    """The HTTP status of the Slack error behind a ``RetryLater`` (None: not an HTTP answer)."""
    cause = exc.__cause__
    return cause.response.status_code if isinstance(cause, SlackApiError) else None
