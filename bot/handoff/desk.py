"""Where agents work a handoff: a Slack channel, or the local inbox when there is no Slack.

Both desks take the same three calls (post, post in a thread, update), so the relay and
its outbox do not care which one is configured; the local inbox exists so a new user can
watch a whole handoff without creating a Slack app.
"""

from __future__ import annotations

from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.customers import run_sync
from bot.handoff.store import HandoffStore
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


class AgentDesk(Protocol):
    """What the relay needs from an agent workspace."""

    name: str

    async def post(
        self, text: str, blocks: list[dict[str, Any]] | None = None, thread_ts: str | None = None
    ) -> tuple[str, str]:
        """Post a message (or a thread reply); returns (channel id, message ts)."""
        ...

    async def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None) -> None: ...

    async def agent_name(self, user_id: str) -> str: ...


class SlackDesk:
    """Posts to one Slack channel with the Web API (bot token)."""

    name = "slack"

    def __init__(self, client: AsyncWebClient, channel: str) -> None:
        self.client = client
        self.channel = channel
        self._names: dict[str, str] = {}

    async def post(
        self, text: str, blocks: list[dict[str, Any]] | None = None, thread_ts: str | None = None
    ) -> tuple[str, str]:
        response = await self._call(
            self.client.chat_postMessage,
            channel=self.channel, text=text, blocks=blocks, thread_ts=thread_ts,
            unfurl_links=False, unfurl_media=False,
        )  # fmt: skip
        return str(response["channel"]), str(response["ts"])

    async def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None) -> None:
        await self._call(self.client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks)

    async def agent_name(self, user_id: str) -> str:
        """The agent's display name as customers should see it (cached per process)."""
        if user_id not in self._names:
            try:
                user = (await self.client.users_info(user=user_id))["user"]
            except SlackApiError:
                return "A member of our team"
            profile = user.get("profile") or {}
            name = profile.get("display_name") or user.get("real_name") or profile.get("real_name")
            self._names[user_id] = (name or user.get("name") or "A member of our team").split()[0]
        return self._names[user_id]

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


class LocalDesk:
    """The built-in agent inbox: posts are rows in ``desk_messages``, shown at /inbox."""

    name = "local"
    channel = "local-inbox"

    def __init__(self, store: HandoffStore) -> None:
        self.store = store

    async def post(
        self, text: str, blocks: list[dict[str, Any]] | None = None, thread_ts: str | None = None
    ) -> tuple[str, str]:
        ts = await run_sync(self.store.desk_post, author="bot", text=text, blocks=blocks, thread_ts=thread_ts)
        return self.channel, ts

    async def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None) -> None:
        await run_sync(self.store.desk_update, ts, text=text, blocks=blocks)

    async def agent_name(self, user_id: str) -> str:
        return user_id  # the inbox asks agents to type their name
