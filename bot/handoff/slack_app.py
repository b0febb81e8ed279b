"""The Slack side of the relay: a Bolt app for thread replies and the card's buttons.

Bolt verifies every request with the signing secret (HMAC over ``v0:timestamp:body``,
timestamps older than five minutes refused) and answers forged or replayed requests with
401 before any listener runs. Listeners only record what happened in the database (the
relay's outbox delivers it), and run before the acknowledgement is sent
(``process_before_response``): if recording fails, Slack gets an error and retries, so an
agent's reply is never acknowledged and then lost. Retries of something already recorded
are recognised by the message ts and do nothing.

Who may act is checked before anything is recorded (bot/handoff/desks/slack/access.py): a
global middleware drops requests from another workspace or channel (200, so Slack does not
retry; a log line with ids only, never the text), and each listener checks the person
(guest, external, not in ``SLACK_AGENT_GROUP``) and, on a claimed handoff, the owner. A
refused person is told why in a message only they see; the handoff and the customer are
left untouched.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.db import run_sync
from bot.handoff.desks.slack import CLAIM, RESOLVE, TRANSCRIPT
from bot.handoff.desks.slack.access import SlackAccess, origin
from bot.handoff.desks.slack.checks import allowed_click, log_refusal, on_card, refuse
from bot.handoff.desks.slack.home import register_home
from bot.handoff.desks.slack.post_events import register_post_events
from bot.handoff.desks.slack.posts import SlackPosts
from bot.handoff.desks.slack.saved_reply_listeners import register_saved_replies
from bot.handoff.desks.slack.transfer import register_transfer
from bot.handoff.relay import Relay
from bot.handoff.saved_replies import load_saved_replies
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
        # Our own posts' message_metadata_posted must arrive (desks/slack/post_events.py); the
        # listeners skip the bot's own messages themselves (is_agent_reply).
        ignoring_self_events_enabled=False,
    )
    access = SlackAccess(client, settings)
    prefix = relay.settings.internal_note_prefix

    @app.middleware
    async def only_our_workspace_and_channel(body: dict[str, Any], next: Any) -> BoltResponse | None:
        where = origin(body)
        refusal = await access.check_request(where)
        if refusal is not None:
            log_refusal(where, refusal)
            return BoltResponse(status=200, body="")  # acknowledged, so Slack does not retry
        return await next()

    @app.event("message")
    async def on_message(event: dict[str, Any], body: dict[str, Any]) -> None:
        if not is_agent_reply(event):
            return
        where, thread_ts, text = origin(body), str(event["thread_ts"]), str(event.get("text") or "")
        handoff = await run_sync(relay.store.by_card, thread_ts)
        if handoff is not None:
            refusal = on_card(handoff, where) or await access.check_agent(where)
            if refusal is None and not text.lstrip().startswith(prefix):
                refusal = await access.check_owner(handoff, str(event["user"]), "reply", prefix)
            if await refuse(access, refusal, where, thread_ts):
                return
        outcome = await relay.on_agent_message(
            thread_ts=thread_ts, message_ts=str(event["ts"]), agent_id=str(event["user"]), text=text
        )
        logger.info("agent message %s in thread %s: %s", event["ts"], thread_ts, outcome)

    @app.action(CLAIM)
    async def on_claim(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        handoff = await allowed_click(relay, access, body, action.get("value"), "claim")
        if handoff is not None:
            await relay.claim(handoff.id, str(body["user"]["id"]))

    @app.action(RESOLVE)
    async def on_resolve(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        handoff = await allowed_click(relay, access, body, action.get("value"), "resolve")
        if handoff is not None:
            await relay.resolve(handoff.id, str(body["user"]["id"]))

    @app.action(TRANSCRIPT)
    async def on_transcript(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        handoff = await allowed_click(relay, access, body, action.get("value"), None)  # any agent may read it
        if handoff is not None:
            view = await relay.transcript_view(handoff.id)
            await client.views_open(trigger_id=body["trigger_id"], view=view)

    register_transfer(app, relay, access, client)
    register_home(app, relay, access, client)
    register_post_events(app, SlackPosts(relay.store.db))  # our posts and agents' replies, written down
    register_saved_replies(app, relay, access, client, load_saved_replies())
    return app
