"""X (Twitter) as a Rasa channel: direct messages and public mentions, webhook or polling.

Register it in credentials.yml under ``bot.channels.x.XInput``. Its Rasa channel name is
``twitter``, so a DM conversation's sender id is the customer's X user id — the identity
the customer store links to a customer (and the channel an agent's reply goes back to).

- **DMs** are conversations like any other. Options are sent as a numbered list.
- **Mentions** are public. Questions whose intent is in ``public_intents`` (generic:
  delivery times, opening hours, …) are answered in the thread, in a separate conversation
  that knows nothing about the customer; anything else gets a short public "we've sent
  you a DM" and is answered by DM. A last check keeps personal data out of public replies.
- **Webhook mode** (Account Activity): ``GET /webhooks/twitter/webhook?crc_token=…``
  answers the CRC challenge; every POST must carry a valid
  ``x-twitter-webhooks-signature`` (HMAC-SHA256 of the body with the consumer secret),
  or gets 401. **Polling mode**: the worker process (bot/channels/x_worker.py) reads
  mentions and DM events every ``X_POLL_INTERVAL`` seconds and hands each to this same
  webhook, signed like X signs it, so both modes take one path.
- Outgoing DMs and tweets are written to the durable outbox (bot/outbox.py), which the
  worker delivers: 429 waits for the rate-limit reset, 5xx and timeouts are retried, order
  is kept per conversation. Each event id is handled once, however often it arrives, and
  the brand's own messages are ignored.

Rasa replicas only serve conversations: nothing here polls or delivers in the background.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.bad_input import attachment_only_reply, clipped, empty_reply
from bot.channels.x_api import XSettings, XSettingsError, call, make_client, signature, x_settings
from bot.channels.x_store import XStore
from bot.channels.x_text import dm_parts, move_to_dm_reply, public_reply, with_numbered_options
from bot.customers import CustomerStore
from bot.migrations import SchemaNotCurrent, require_current
from bot.settings import customer_database_url

logger = logging.getLogger(__name__)

CHANNEL = "twitter"
# Questions answered in public, in the mention's thread. Everything else moves to DM.
DEFAULT_PUBLIC_INTENTS = (
    "greet", "thank", "goodbye", "bot_challenge", "help", "delivery_time", "international_shipping",
    "return_policy", "warranty", "payment_methods", "discount_code", "device_compatibility",
    "device_setup", "plans_pricing", "support_hours",
)  # fmt: skip
LEADING_MENTIONS = re.compile(r"^(?:\s*@\w+)+\s*")

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
Parse = Callable[[str], Awaitable[dict[str, Any]]]


class XOutput(OutputChannel):
    """Sends the bot's (and agents') messages to a customer as DMs, via the outbox."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, store: XStore) -> None:
        self.store = store

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in dm_parts(text):
            await asyncio.to_thread(self.store.send_dm, recipient_id, part)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await asyncio.to_thread(self.store.remember_choices, recipient_id, buttons)
        await self.send_text_message(recipient_id, with_numbered_options(text, buttons))

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, image)

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, str(attachment))

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        """Custom JSON (e.g. the web chat's handoff banner state) has no X equivalent."""


class XConversations:
    """Turns X events into Rasa messages; one instance per Rasa server process."""

    def __init__(self, settings: XSettings, store: XStore, public_intents: tuple[str, ...]) -> None:
        self.settings = settings
        self.store = store
        self.public_intents = frozenset(public_intents)
        self.client = make_client(settings)
        self._brand_id = settings.account_id
        self._brand_username: str | None = None

    async def brand_id(self) -> str:
        if self._brand_id is None:
            me = await call(self.client.get_me, user_auth=True)
            self._brand_id, self._brand_username = str(me.data.id), me.data.username
        return self._brand_id

    # --- incoming ----------------------------------------------------------------------

    async def handle_dm(
        self,
        on_new_message: OnNewMessage,
        *,
        event_id: str,
        sender_id: str,
        text: str,
        attachment: bool = False,
    ) -> str:
        """One DM from a customer. Returns what happened (for logs and tests)."""
        if sender_id == await self.brand_id():
            return "own-message"
        if not await asyncio.to_thread(self.store.first_time, f"dm:{event_id}"):
            return "duplicate"
        text = text.strip()
        if not text:
            reply = attachment_only_reply() if attachment else empty_reply()
            await asyncio.to_thread(self.store.send_dm, sender_id, reply)
            return "no-text"
        chosen = await asyncio.to_thread(self.store.resolve_choice, sender_id, text)
        await on_new_message(
            UserMessage(
                clipped(chosen or text), XOutput(self.store), sender_id, input_channel=CHANNEL,
                message_id=event_id, metadata={"x": {"event_id": event_id, "kind": "dm"}},
            )
        )  # fmt: skip
        return "handled"

    async def handle_mention(
        self, on_new_message: OnNewMessage, parse: Parse, *, tweet_id: str, author_id: str, username: str,
        text: str,
    ) -> str:  # fmt: skip
        """A public tweet mentioning the brand: answer in public if generic, else move to DM."""
        if author_id == await self.brand_id():
            return "own-message"
        if not await asyncio.to_thread(self.store.first_time, f"tweet:{tweet_id}"):
            return "duplicate"
        question = LEADING_MENTIONS.sub("", text).strip()
        intent = ((await parse(question)).get("intent") or {}).get("name") if question else None
        if intent in self.public_intents:
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(
                    question, collector, f"x-mention-{tweet_id}", input_channel=CHANNEL,
                    message_id=tweet_id, metadata={"x": {"tweet_id": tweet_id, "kind": "mention"}},
                )
            )  # fmt: skip
            texts = [str(m.get("text") or "") for m in collector.messages]
            await asyncio.to_thread(self.store.send_replies, tweet_id, public_reply(username, texts))
            return "answered-in-public"
        await asyncio.to_thread(self.store.send_replies, tweet_id, move_to_dm_reply(username))
        if question:
            await on_new_message(
                UserMessage(
                    question, XOutput(self.store), author_id, input_channel=CHANNEL,
                    message_id=f"mention-{tweet_id}",
                    metadata={"x": {"tweet_id": tweet_id, "kind": "mention"}},
                )
            )  # fmt: skip
        return "moved-to-dm"

    async def handle_activity(
        self, on_new_message: OnNewMessage, parse: Parse, payload: dict[str, Any]
    ) -> None:
        """An Account Activity webhook delivery (DMs and tweets)."""
        for event in payload.get("direct_message_events") or []:
            if event.get("type") != "message_create":
                continue
            create = event.get("message_create") or {}
            data = create.get("message_data") or {}
            await self.handle_dm(
                on_new_message, event_id=str(event.get("id")), sender_id=str(create.get("sender_id")),
                text=str(data.get("text") or ""), attachment=bool(data.get("attachment")),
            )  # fmt: skip
        brand = await self.brand_id()
        for tweet in payload.get("tweet_create_events") or []:
            mentions = {
                str(m.get("id_str")) for m in (tweet.get("entities") or {}).get("user_mentions") or []
            }
            user = tweet.get("user") or {}
            if brand not in mentions:
                continue
            await self.handle_mention(
                on_new_message, parse, tweet_id=str(tweet.get("id_str")), author_id=str(user.get("id_str")),
                username=str(user.get("screen_name") or ""), text=str(tweet.get("text") or ""),
            )  # fmt: skip


class XInput(InputChannel):
    """The Rasa input channel (credentials.yml key ``bot.channels.x.XInput``)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> XInput:
        credentials = credentials or {}
        try:
            settings = x_settings(credentials)
        except XSettingsError as exc:
            raise XSettingsError(f"credentials.yml / environment: {exc}") from exc
        public = tuple(credentials.get("public_intents") or DEFAULT_PUBLIC_INTENTS)
        return cls(settings, public)

    def __init__(
        self, settings: XSettings | None, public_intents: tuple[str, ...] = DEFAULT_PUBLIC_INTENTS
    ) -> None:
        self.settings = settings
        self.store = XStore(CustomerStore(customer_database_url()))
        self.conversations = XConversations(settings, self.store, public_intents) if settings else None

    def get_output_channel(self) -> OutputChannel | None:
        """How an agent's reply (appended through Rasa's API) reaches an X customer: a DM."""
        return XOutput(self.store) if self.settings else None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        x_webhook = Blueprint("x_webhook", __name__)
        conversations = self.conversations

        @x_webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            if conversations is None:
                hint = "set the X_* variables (docs/x.md, 'Connect X')"
                return response.json({"status": "off", "hint": hint})
            return response.json({"status": "ok", "mode": conversations.settings.mode})

        @x_webhook.route("/webhook", methods=["GET"])
        async def crc(request: Request) -> HTTPResponse:
            if conversations is None:
                return response.text("X channel not configured", status=503)
            token = request.args.get("crc_token")
            if not token:
                return response.json({"error": "crc_token missing"}, status=400)
            return response.json({"response_token": signature(conversations.settings.consumer_secret,
                                                              token.encode())})  # fmt: skip

        @x_webhook.route("/webhook", methods=["POST"])
        async def activity(request: Request) -> HTTPResponse:
            if conversations is None:
                return response.text("X channel not configured", status=503)
            given = request.headers.get("x-twitter-webhooks-signature", "")
            expected = signature(conversations.settings.consumer_secret, request.body)
            if not hmac.compare_digest(given, expected):
                return response.json({"error": "invalid signature"}, status=401)
            try:
                payload = json.loads(request.body or b"{}")
            except ValueError:
                return response.json({"error": "body is not JSON"}, status=400)
            if not isinstance(payload, dict):
                return response.json({"error": "expected a JSON object"}, status=400)
            parse = request.app.ctx.agent.parse_message
            await conversations.handle_activity(on_new_message, parse, payload)
            return response.json({"status": "ok"})

        @x_webhook.listener("after_server_start")
        async def check_tables(app: Any, _loop: Any) -> None:
            if conversations is not None:
                try:
                    await asyncio.to_thread(require_current, customer_database_url())
                except SchemaNotCurrent as exc:  # webhook deliveries fail (X retries them) until then
                    logger.error("X channel: %s", exc)
                mode = conversations.settings.mode
                logger.info("X channel on (%s mode; the worker polls and delivers)", mode)

        return x_webhook
