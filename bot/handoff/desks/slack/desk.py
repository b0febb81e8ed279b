"""The Slack desk: handoff cards in one channel, the conversation in each card's thread.

Renders with this package's Block Kit builders and talks to Slack's Web API with the bot
token. Slack errors become ``RetryLater`` for the outbox; the ones a retry cannot fix say
in the log which setting to change.
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
from bot.outbox import RetryLater

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
UNKNOWN_AGENT = "A member of our team"


class SlackDesk:
    """Posts to one Slack channel with the Web API (bot token)."""

    name = "slack"

    def __init__(self, client: AsyncWebClient, channel: str) -> None:
        self.client = client
        self.channel = channel
        self._names: dict[str, str] = {}

    async def show_card(self, packet: Mapping[str, Any], state: CardState, card: CardRef | None) -> CardRef:
        text, blocks = card_text(packet, state), card_blocks(packet, state)
        if card is None:
            return await self._post(text, blocks)
        await self._call(self.client.chat_update, channel=card.channel, ts=card.ts, text=text, blocks=blocks)
        return card

    async def post_customer_message(self, card: CardRef, text: str) -> None:
        await self._post(customer_message_text(text), thread_ts=card.ts)

    async def post_notice(self, card: CardRef, kind: Notice, **fields: Any) -> None:
        await self._post(status_text(kind, **fields), thread_ts=card.ts)

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
        self, text: str, blocks: list[dict[str, Any]] | None = None, thread_ts: str | None = None
    ) -> CardRef:
        response = await self._call(
            self.client.chat_postMessage,
            channel=self.channel, text=text, blocks=blocks, thread_ts=thread_ts,
            unfurl_links=False, unfurl_media=False,
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
            hint = CONFIGURATION_ERRORS.get(str(error))
            raise RetryLater(f"Slack error {status} {error}" + (f": {hint}" if hint else "")) from exc
        except (OSError, TimeoutError) as exc:  # aiohttp/connection errors derive from OSError
            raise RetryLater(f"Slack unreachable: {exc!r}") from exc
