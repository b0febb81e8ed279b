"""Saved replies in Slack: the message shortcut, ``/saved-reply``, the private preview and Send.

The flow: an agent runs the shortcut on any message of a handoff's thread (or types
``/saved-reply <handoff> <words>`` in the channel, which has no thread to point at), picks a
reply, sees it filled in where only they can (``chat.postEphemeral`` in the thread), and only
**Send** delivers it. Delivery is the typed reply's path, ``Relay.on_agent_message``: it claims
the handoff if needed, refuses a resolved one and queues the text once per message id; the
thread then gets a ``SAVED_REPLY`` notice saying what the customer was sent.

Why the checks are repeated at every step: each step is a separate request from Slack, and
only the first one came from a real message of a real thread. Every step asks
``SlackAccess.check_agent`` and ``check_owner(…, "reply")`` like a typed reply, and the Send
button's value is signed (HMAC with a key from the app's secrets) over the agent, the handoff,
the reply, the order and a one-time id: a forged click for another handoff, another reply or
by another person is refused, and a double click sends once (the one-time id is the message id).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.customers import normalise_order_number
from bot.db import run_sync
from bot.handoff.desks.slack.access import Origin, SlackAccess, origin
from bot.handoff.desks.slack.checks import on_card, refuse
from bot.handoff.desks.slack.saved_reply_views import (
    CANCEL,
    COMMAND,
    PICK,
    SEND,
    SHORTCUT,
    matches_text,
    note_text,
    picked,
    picker_modal,
    preview_blocks,
)
from bot.handoff.relay import Relay
from bot.handoff.saved_replies import Library, Rendered, conversation_order, orders_of
from bot.handoff.saved_reply_delivery import fill, send
from bot.handoff.store import HandoffRecord

logger = logging.getLogger(__name__)

TOKEN_VERSION = "sr1"
TOKEN_MAX_AGE = 24 * 3600  # a preview left open overnight is stale: open it again
HANDOFF_NUMBER = re.compile(r"#?(\d{1,12})")

NOT_A_HANDOFF = "Saved replies work on messages in a handoff's thread. Nothing was sent."
STALE = (
    "This preview is no longer valid (expired or not yours). Open the saved reply again. Nothing was sent."
)
CANCELLED = "Cancelled — nothing was sent to the customer."
SENT = "Sent “{title}” to the customer."
NOT_SENT = {
    "handoff-resolved": "Not sent: this handoff is resolved and the bot is back with the customer.",
    "internal-note": "Not sent: the reply starts like an internal note.",
    "empty": "Not sent: the reply is empty.",
    "not-a-handoff-thread": NOT_A_HANDOFF,
}


class PreviewTokens:
    """Signed Send/Cancel values: ``sr1|handoff|reply|order|nonce|issued|mac`` (the mac binds the agent)."""

    def __init__(self, secret: str, clock: Any = time.time) -> None:
        self.key = hashlib.sha256(b"saved-replies\0" + secret.encode()).digest()
        self.clock = clock

    def _mac(self, user: str, fields: list[str]) -> str:
        message = "|".join([user, *fields]).encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:32]

    def issue(self, user: str, handoff_id: int, reply_id: str, order: str | None) -> str:
        fields = [
            TOKEN_VERSION,
            str(handoff_id),
            reply_id,
            order or "",
            uuid.uuid4().hex[:16],
            str(int(self.clock())),
        ]
        return "|".join([*fields, self._mac(user, fields)])

    def read(self, user: str, value: str) -> tuple[int, str, str | None, str] | None:
        """(handoff id, reply id, order, nonce) of a genuine, fresh token for ``user``; else None."""
        parts = value.split("|")
        if len(parts) != 7 or parts[0] != TOKEN_VERSION or not parts[1].isdigit() or not parts[5].isdigit():
            return None
        if not hmac.compare_digest(parts[6], self._mac(user, parts[:6])):
            return None
        if not 0 <= self.clock() - int(parts[5]) <= TOKEN_MAX_AGE:
            return None
        return int(parts[1]), parts[2], parts[3] or None, parts[4]


def register_saved_replies(
    app: Any, relay: Relay, access: SlackAccess, client: AsyncWebClient, library: Library
) -> None:
    """Add the shortcut, the slash command, the modal's submission and the preview's buttons to ``app``."""
    prefix = relay.settings.internal_note_prefix
    secret = f"{access.settings.signing_secret}\0{access.settings.bot_token}"
    tokens = PreviewTokens(secret)

    async def tell(where: Origin, text: str, thread_ts: str | None = None, blocks: Any = None) -> None:
        if not where.user or not where.channel:
            return
        try:
            await client.chat_postEphemeral(
                channel=where.channel, user=where.user, text=text, blocks=blocks, thread_ts=thread_ts
            )
        except (SlackApiError, OSError, TimeoutError) as exc:
            logger.warning("slack: saved reply: could not tell user %s: %r", where.user, exc)

    async def may_reply(handoff: HandoffRecord, where: Origin, *, card: bool = True) -> Origin | None:
        """The typed reply's checks (the handoff's own channel, an agent, the owner or a lead).

        Returns where to answer: a modal's submission has no channel (``card=False``), so the
        answer goes to the handoff's own channel."""
        answer = where if where.channel else replace(where, channel=handoff.desk_channel)
        refusal = (on_card(handoff, where) if card else None) or await access.check_agent(where)
        if refusal is None:
            refusal = await access.check_owner(handoff, str(where.user), "reply", prefix)
        return None if await refuse(access, refusal, answer, handoff.card_ts) else answer

    async def filled(handoff: HandoffRecord, reply_id: str, order: str | None, user: str) -> Rendered | None:
        return await fill(relay, library, handoff, reply_id, order, user)

    async def preview(
        handoff: HandoffRecord, where: Origin, reply_id: str, order: str | None, others: Any = ()
    ) -> None:
        rendered = await filled(handoff, reply_id, order, str(where.user))
        if rendered is None:
            await tell(where, STALE, handoff.card_ts)
            return
        token = tokens.issue(str(where.user), handoff.id, reply_id, rendered.order_number)
        blocks = preview_blocks(rendered, handoff.id, token, others)
        await tell(where, f"Preview of “{note_text(rendered.reply.title)}”", handoff.card_ts, blocks)

    @app.shortcut(SHORTCUT)
    async def on_shortcut(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        where, message = origin(body), body.get("message") or {}
        thread_ts = str(message.get("thread_ts") or message.get("ts") or "")
        handoff = await run_sync(relay.store.by_card, thread_ts) if thread_ts else None
        if handoff is None:
            await tell(where, NOT_A_HANDOFF)
            return
        if await may_reply(handoff, where) is None:
            return
        chosen = conversation_order(handoff.packet)
        view = picker_modal(
            handoff_id=handoff.id, channel=str(where.channel), replies=library.search(""),
            packet=handoff.packet, order_number=str(chosen["number"]) if chosen else None,
        )  # fmt: skip
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(PICK)
    async def on_pick(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        try:
            handoff_id = int(json.loads(view.get("private_metadata") or "{}")["handoff"])
        except (ValueError, KeyError, TypeError):
            logger.info("slack: saved reply modal with malformed metadata ignored")
            return
        handoff = await run_sync(relay.store.get, handoff_id)
        where = await may_reply(handoff, origin(body), card=False) if handoff else None
        if handoff is None or where is None:
            return
        reply_id, order = picked(view)
        await preview(handoff, where, reply_id, order)

    @app.command(COMMAND)
    async def on_command(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        where = origin(body)
        refusal = await access.check_agent(where)
        if refusal is not None:
            await access.tell(refusal, where)
            return
        words = str(body.get("text") or "").split()
        number = HANDOFF_NUMBER.fullmatch(words[0]) if words else None
        handoff = await run_sync(relay.store.get, int(number.group(1))) if number else None
        if handoff is None or handoff.card_ts is None:
            query = " ".join(words[1:] if number else words)
            missing = f"There is no handoff {number.group(1)} here.\n" if number else ""
            await tell(where, missing + matches_text(library.search(query), query))
            return
        if await may_reply(handoff, where) is None:
            return
        own_orders = {str(o["number"]) for o in orders_of(handoff.packet)}
        order = next(
            (normalise_order_number(w) for w in words[1:] if normalise_order_number(w) in own_orders), None
        )
        query = " ".join(w for w in words[1:] if normalise_order_number(w) not in own_orders)
        found = library.search(query)
        if not found:
            await tell(where, matches_text(found, query), handoff.card_ts)
            return
        await preview(handoff, where, found[0].id, order, found[1:])

    async def clicked(
        body: dict[str, Any], action: dict[str, Any]
    ) -> tuple[HandoffRecord, str, str | None, str] | None:
        """The handoff, reply, order and one-time id of a genuine click that may go ahead."""
        where = origin(body)
        token = tokens.read(str(where.user), str(action.get("value") or ""))
        if token is None:
            logger.warning("slack: saved reply click with an invalid or stale token from user %s", where.user)
            await tell(where, STALE)
            return None
        handoff = await run_sync(relay.store.get, token[0])
        if handoff is None or await may_reply(handoff, where) is None:
            return None
        return handoff, token[1], token[2], token[3]

    @app.action(SEND)
    async def on_send(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        found = await clicked(body, action)
        if found is None:
            return
        handoff, reply_id, order, nonce = found
        where, user = origin(body), str(origin(body).user)
        rendered = await filled(handoff, reply_id, order, user)
        if rendered is None or rendered.text is None:
            blocks = preview_blocks(rendered, handoff.id, "") if rendered else None
            await tell(where, STALE if rendered is None else "Not sent", handoff.card_ts, blocks)
            return
        outcome = await send(relay, handoff, rendered, user, f"saved:{handoff.id}:{nonce}")
        logger.info("saved reply %s on handoff %s by %s: %s", reply_id, handoff.id, user, outcome)
        if outcome == "relayed":
            await tell(where, SENT.format(title=note_text(rendered.reply.title)), handoff.card_ts)
        elif outcome != "duplicate":
            await tell(where, NOT_SENT.get(outcome, "Not sent."), handoff.card_ts)

    @app.action(CANCEL)
    async def on_cancel(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        found = await clicked(body, action)
        if found is not None:
            await tell(origin(body), CANCELLED, found[0].card_ts)
