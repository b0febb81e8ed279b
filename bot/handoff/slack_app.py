"""The Slack side of the relay: a Bolt app for thread replies and the card's buttons.

Bolt verifies every request with the signing secret (HMAC over ``v0:timestamp:body``,
timestamps older than five minutes refused) and answers forged or replayed requests with
401 before any listener runs. Listeners only record what happened in the database (the
relay's outbox delivers it), and run before the acknowledgement is sent
(``process_before_response``): if recording fails, Slack gets an error and retries, so an
agent's reply is never acknowledged and then lost. Retries of something already recorded
are recognised by the message ts and do nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.handoff.desks.slack import CLAIM, RESOLVE, TRANSCRIPT
from bot.handoff.relay import Relay
from bot.handoff.settings import SlackSettings

logger = logging.getLogger(__name__)

# Message subtypes that are not an agent writing something new.
IGNORED_SUBTYPES = frozenset({
    "bot_message", "message_changed", "message_deleted", "channel_join", "channel_leave",
    "thread_broadcast", "message_replied", "channel_topic", "channel_purpose",
})  # fmt: skip


def slack_client(settings: SlackSettings) -> AsyncWebClient:
    kwargs: dict[str, Any] = {"token": settings.bot_token}
    if settings.api_url:
        kwargs["base_url"] = settings.api_url.rstrip("/") + "/"
    return AsyncWebClient(**kwargs)


def is_agent_reply(event: dict[str, Any]) -> bool:
    """A person's new message inside a thread (not the bot's own post, not an edit)."""
    if event.get("bot_id") or event.get("subtype") in IGNORED_SUBTYPES or not event.get("user"):
        return False
    thread_ts = event.get("thread_ts")
    return bool(thread_ts) and thread_ts != event.get("ts")


def build_slack_app(relay: Relay, settings: SlackSettings, client: AsyncWebClient) -> AsyncApp:
    app = AsyncApp(
        client=client,
        signing_secret=settings.signing_secret,
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        if not is_agent_reply(event):
            return
        outcome = await relay.on_agent_message(
            thread_ts=str(event["thread_ts"]),
            message_ts=str(event["ts"]),
            agent_id=str(event["user"]),
            text=str(event.get("text") or ""),
        )
        logger.info("agent message %s in thread %s: %s", event["ts"], event["thread_ts"], outcome)

    @app.action(CLAIM)
    async def on_claim(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        await relay.claim(int(action["value"]), str(body["user"]["id"]))

    @app.action(RESOLVE)
    async def on_resolve(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        await relay.resolve(int(action["value"]), str(body["user"]["id"]))

    @app.action(TRANSCRIPT)
    async def on_transcript(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        view = await relay.transcript_view(int(action["value"]))
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    return app
