"""The Slack desk: handoff cards in the handoff channel (or a routed team's), the conversation in each
card's thread.

Renders with this package's Block Kit builders and talks to Slack's Web API with the bot
token. Slack errors become ``RetryLater`` for the outbox; the ones a retry cannot fix say
in the log which setting to change, and the ones no retry of *this* message can fix
(``PERMANENT_ERRORS``) become ``GiveUp``: a dead letter, not a queue blocked for good.

``chat.postMessage`` has no idempotency key, so every post carries the outbox item's key
in Slack message metadata (``DELIVERY_EVENT``); after a crash or a timeout the relay asks
:meth:`SlackDesk.find_delivery` (``conversations.replies`` / ``conversations.history``,
covered by the history scopes the app already has) before posting again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.handoff.desks.base import CardRef, CardState, Notice
from bot.handoff.desks.slack.card import card_blocks, card_text
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
# The message-metadata event type of our posts; its payload is {"key": <outbox item key>}.
DELIVERY_EVENT = "hearthlink_delivery"
# Pages of 200 messages searched for a post in doubt (bot/outbox.py OutboxRecord.in_doubt).
SEARCH_PAGES = 10


class SlackDesk:
    """Posts to one Slack channel with the Web API (bot token)."""

    name = "slack"

    def __init__(self, client: AsyncWebClient, channel: str) -> None:
        self.client = client
        self.channel = channel
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
        """Our post carrying ``key``: in ``card``'s thread, or (``card`` None) a top-level post in the
        channel (``channel``, default the handoff channel).

        The newest ``SEARCH_PAGES`` pages are searched, without a time bound (no clock is trusted):
        an item in doubt was posted moments before the crash, so its post is among the newest.
        """
        cursor = None
        for _ in range(SEARCH_PAGES):
            if card is not None:
                page = await self._call(
                    self.client.conversations_replies, channel=card.channel, ts=card.ts,
                    include_all_metadata=True, limit=200, cursor=cursor,
                )  # fmt: skip
            else:
                page = await self._call(
                    self.client.conversations_history, channel=channel or self.channel,
                    include_all_metadata=True, limit=200, cursor=cursor,
                )  # fmt: skip
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == DELIVERY_EVENT and payload.get("key") == key:
                    return CardRef(card.channel if card else channel or self.channel, str(message["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None  # not in the newest pages searched: taken as not posted (at least once)

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
        metadata = {"event_type": DELIVERY_EVENT, "event_payload": {"key": key}} if key else None
        response = await self._call(
            self.client.chat_postMessage,
            channel=channel or self.channel, text=text, blocks=blocks, thread_ts=thread_ts,
            unfurl_links=False, unfurl_media=False, metadata=metadata,
        )  # fmt: skip
        return CardRef(str(response["channel"]), str(response["ts"]))

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
