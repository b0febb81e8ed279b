"""X (Twitter) as a Rasa channel: direct messages and public mentions, webhook or polling.

Register it in credentials.yml under ``bot.channels.x.XInput``. Its Rasa channel name is
``twitter``, so a DM conversation's sender id is the customer's X user id — the identity
the customer store links to a customer (and the channel an agent's reply goes back to).

- **DMs** are conversations like any other. Options are sent as a numbered list.
- **Mentions** are public. Questions whose intent is in ``public_intents`` (generic:
  delivery times, opening hours, …) are answered in the thread, in a separate conversation
  that knows nothing about the customer; anything else gets a short public "we've sent
  you a DM" and is answered by DM. A last check keeps personal data out of public replies.
- **Webhook mode** (``X_MODE=webhook``, Account Activity): ``GET
  /webhooks/twitter/webhook?crc_token=…`` answers X's CRC challenge, but only for tokens
  that cannot be a delivery's body (``x_api.crc_token_acceptable`` says why: the answer
  is the delivery signature's construction); every POST must carry a valid
  ``x-twitter-webhooks-signature`` (HMAC-SHA256 of the body with the consumer secret),
  or gets 401. **Polling mode** (the default): those routes do not exist (404); the
  worker (bot/channels/x_worker.py) reads mentions and DM events every
  ``X_POLL_INTERVAL`` seconds and POSTs them, in the same Account Activity shape, to
  ``/webhooks/twitter/polled``, signed with a key only our own processes hold
  (``x_api.polled_events_key``). Both routes hand the payload to one code path.
- Outgoing DMs and tweets are written to the durable outbox (bot/outbox.py), which the
  worker delivers: 429 waits for the rate-limit reset, 5xx and timeouts are retried, order
  is kept per conversation. The brand's own messages are ignored.
- **Each event is answered exactly once.** Its id is recorded as seen only after it was
  handled; a failure answers 500 and X (or the poller) delivers it again. The check, the
  Rasa turn and the recording run under Rasa's lock for that conversation, so two copies
  arriving together are handled one after the other, the second as a duplicate. A retry
  after a crash looks at what was recorded: a turn already in the tracker (its user
  message carries the event id) is not run again, and the replies of a turn that was cut
  short are queued under dedupe keys, so the parts already queued are not sent twice.

Rasa replicas only serve conversations: nothing here polls or delivers in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from rasa.shared.core.events import UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.bad_input import attachment_only_reply, clipped, empty_reply
from bot.channels.x_api import (
    POLLED_SIGNATURE_HEADER,
    BrandId,
    XSettings,
    XSettingsError,
    crc_token_acceptable,
    make_client,
    polled_events_key,
    signature,
    x_settings,
)
from bot.channels.x_store import XStore
from bot.channels.x_text import dm_parts, move_to_dm_reply, public_reply, with_numbered_options
from bot.customers import CustomerStore
from bot.internal_tokens import internal_tokens
from bot.migrations import SchemaNotCurrent, require_current
from bot.nlu.language_detection import detect
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

Parse = Callable[[str], Awaitable[dict[str, Any]]]


class XOutput(OutputChannel):
    """Sends the bot's (and agents') messages to a customer as DMs, via the outbox.

    ``reply_key`` (the event being answered) numbers the parts of the answer and queues
    each under ``x-dm:<reply_key>:<n>``: a retried turn re-queues nothing already queued.
    """

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, store: XStore, reply_key: str | None = None) -> None:
        self.store = store
        self.reply_key = reply_key
        self._parts = 0
        self.sent = False  # this turn sent the customer something
        self.offered_choices = False  # ... and it offered numbered options

    def _dedupe_key(self) -> str | None:
        if self.reply_key is None:
            return None
        self._parts += 1
        return f"x-dm:{self.reply_key}:{self._parts - 1}"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.sent = True
        for part in dm_parts(text):
            await asyncio.to_thread(self.store.send_dm, recipient_id, part, self._dedupe_key())

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        self.offered_choices = True
        await asyncio.to_thread(self.store.remember_choices, recipient_id, buttons)
        await self.send_text_message(recipient_id, with_numbered_options(text, buttons))

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, image)

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, str(attachment))

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        """Custom JSON (e.g. the web chat's handoff banner state) has no X equivalent."""


class RasaTurns:
    """Rasa's side of handling an event once: the conversation lock, the tracker, one turn.

    Why not the ``on_new_message`` callback Rasa hands to channels: it takes the
    conversation lock itself, and the "seen before?" check, the turn and recording the
    event must all happen inside that one lock (otherwise two copies of an event, say X
    retrying a slow delivery, would both pass the check). ``agent.handle_message`` is
    exactly this lock around ``processor.handle_message``, which is what :meth:`run` calls.
    """

    def __init__(self, agent: Any) -> None:
        self.agent = agent

    @contextlib.asynccontextmanager
    async def conversation(self, conversation_id: str) -> AsyncIterator[None]:
        async with self.agent.lock_store.lock(conversation_id):
            yield

    async def recorded(self, conversation_id: str, message_id: str) -> bool:
        """Whether a user message with ``message_id`` is in the conversation's tracker already."""
        tracker = await self.agent.tracker_store.retrieve(conversation_id)
        events = tracker.events if tracker is not None else []
        return any(isinstance(e, UserUttered) and e.message_id == message_id for e in events)

    async def run(self, message: UserMessage) -> None:
        """One turn; call inside :meth:`conversation` for ``message.sender_id``."""
        if not self.agent.is_ready() or self.agent.processor is None:
            raise RuntimeError("Rasa has no model loaded yet; the event will be delivered again")
        await self.agent.processor.handle_message(message)


class XConversations:
    """Turns X events into Rasa messages; one instance per Rasa server process."""

    def __init__(self, settings: XSettings, store: XStore, public_intents: tuple[str, ...]) -> None:
        self.settings = settings
        self.store = store
        self.public_intents = frozenset(public_intents)
        self.client = make_client(settings)
        self.brand_id = BrandId(self.client, settings.account_id)

    async def _seen(self, key: str) -> bool:
        return await asyncio.to_thread(self.store.seen, key)

    async def _done(self, key: str) -> None:
        await asyncio.to_thread(self.store.mark_seen, key)

    # --- incoming ----------------------------------------------------------------------

    async def handle_dm(
        self, turns: RasaTurns, *, event_id: str, sender_id: str, text: str, attachment: bool = False
    ) -> str:
        """One DM from a customer. Returns what happened (for logs and tests)."""
        if sender_id == await self.brand_id():
            return "own-message"
        key = f"dm:{event_id}"
        if await self._seen(key):
            return "duplicate"
        text = text.strip()
        if not text:
            reply = attachment_only_reply() if attachment else empty_reply()
            await asyncio.to_thread(self.store.send_dm, sender_id, reply, f"x-dm:{key}:0")
            await self._done(key)
            return "no-text"
        async with turns.conversation(sender_id):
            if await self._seen(key):  # a copy handled while we waited for the lock
                return "duplicate"
            choice = await asyncio.to_thread(self.store.resolve_choice, sender_id, text)
            output = XOutput(self.store, key)
            if not await turns.recorded(sender_id, event_id):
                await turns.run(
                    UserMessage(
                        clipped(choice[0] if choice else text), output, sender_id,
                        input_channel=CHANNEL, message_id=event_id,
                        metadata={"x": {"event_id": event_id, "kind": "dm"}},
                    )
                )  # fmt: skip
            if choice:
                await asyncio.to_thread(self.store.forget_choices, sender_id, choice[1])
            if output.sent and not output.offered_choices:
                # The bot's latest question has no numbered options (e.g. "reply 0 to 10"), so
                # a number the customer sends now answers it, not an older list of options.
                await asyncio.to_thread(self.store.drop_choices, sender_id)
            await self._done(key)
        return "handled"

    async def handle_mention(
        self, turns: RasaTurns, parse: Parse, *, tweet_id: str, author_id: str, username: str, text: str
    ) -> str:
        """A public tweet mentioning the brand: answer in public if generic, else move to DM."""
        if author_id == await self.brand_id():
            return "own-message"
        key = f"tweet:{tweet_id}"
        if await self._seen(key):
            return "duplicate"
        question = LEADING_MENTIONS.sub("", text).strip()
        intent = ((await parse(question)).get("intent") or {}).get("name") if question else None
        detected = detect(question)  # the public texts we add answer in the mention's language
        language = detected.language if detected else None
        if intent in self.public_intents:
            # A throwaway conversation per tweet: a retry simply runs it again; the public
            # reply is queued under per-tweet dedupe keys, so it is posted once.
            public = f"x-mention-{tweet_id}"
            async with turns.conversation(public):
                if await self._seen(key):
                    return "duplicate"
                collector = CollectingOutputChannel()
                await turns.run(
                    UserMessage(
                        question, collector, public, input_channel=CHANNEL, message_id=tweet_id,
                        metadata={"x": {"tweet_id": tweet_id, "kind": "mention"}},
                    )
                )  # fmt: skip
                texts = [str(m.get("text") or "") for m in collector.messages]
                replies = public_reply(username, texts, language)
                await asyncio.to_thread(self.store.send_replies, tweet_id, replies)
                await self._done(key)
            return "answered-in-public"
        await asyncio.to_thread(self.store.send_replies, tweet_id, move_to_dm_reply(username, language))
        async with turns.conversation(author_id):
            if await self._seen(key):
                return "duplicate"
            message_id = f"mention-{tweet_id}"
            if question and not await turns.recorded(author_id, message_id):
                await turns.run(
                    UserMessage(
                        question, XOutput(self.store, f"mention:{tweet_id}"), author_id,
                        input_channel=CHANNEL, message_id=message_id,
                        metadata={"x": {"tweet_id": tweet_id, "kind": "mention"}},
                    )
                )  # fmt: skip
            await self._done(key)
        return "moved-to-dm"

    async def handle_activity(self, turns: RasaTurns, parse: Parse, payload: dict[str, Any]) -> list[str]:
        """An Account Activity payload (DMs and tweets); a failure leaves the rest to the retry."""
        outcomes = []
        for event in payload.get("direct_message_events") or []:
            if event.get("type") != "message_create":
                continue
            create = event.get("message_create") or {}
            data = create.get("message_data") or {}
            outcomes.append(await self.handle_dm(
                turns, event_id=str(event.get("id")), sender_id=str(create.get("sender_id")),
                text=str(data.get("text") or ""), attachment=bool(data.get("attachment")),
            ))  # fmt: skip
        tweets = payload.get("tweet_create_events") or []
        brand = await self.brand_id() if tweets else ""
        for tweet in tweets:
            mentions = {
                str(m.get("id_str")) for m in (tweet.get("entities") or {}).get("user_mentions") or []
            }
            user = tweet.get("user") or {}
            if brand not in mentions:
                continue
            outcomes.append(await self.handle_mention(
                turns, parse, tweet_id=str(tweet.get("id_str")), author_id=str(user.get("id_str")),
                username=str(user.get("screen_name") or ""), text=str(tweet.get("text") or ""),
            ))  # fmt: skip
        return outcomes


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
        self.polled_key = (
            polled_events_key(internal_tokens().rasa_auth_token)
            if settings is not None and settings.mode == "polling"
            else None
        )

    def get_output_channel(self) -> OutputChannel | None:
        """How an agent's reply (appended through Rasa's API) reaches an X customer: a DM."""
        return XOutput(self.store) if self.settings else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The routes of the configured mode only: a route that does not exist cannot be abused.

        Webhook mode: ``GET|POST /webhook`` (X's CRC check and deliveries). Polling mode:
        ``POST /polled`` (the worker's hand-offs). X off: neither. ``GET /`` says which.
        """
        x_webhook = Blueprint("x_webhook", __name__)
        conversations = self.conversations

        @x_webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            if conversations is None:
                hint = "set the X_* variables (docs/x.md, 'Connect X')"
                return response.json({"status": "off", "hint": hint})
            return response.json({"status": "ok", "mode": conversations.settings.mode})

        if conversations is None:
            return x_webhook
        secret = conversations.settings.consumer_secret

        async def handle(request: Request, key: str, header: str) -> HTTPResponse:
            given = request.headers.get(header, "")
            if not hmac.compare_digest(given, signature(key, request.body or b"")):
                return response.json({"error": "invalid signature"}, status=401)
            try:
                payload = json.loads(request.body or b"{}")
            except ValueError:
                return response.json({"error": "body is not JSON"}, status=400)
            if not isinstance(payload, dict):
                return response.json({"error": "expected a JSON object"}, status=400)
            agent = request.app.ctx.agent
            try:
                outcomes = await conversations.handle_activity(RasaTurns(agent), agent.parse_message, payload)
            except Exception:  # nothing is marked seen: X (or the poller) delivers it again
                logger.exception("X event not handled; it stays unseen and will be retried")
                return response.json({"error": "not handled; deliver it again"}, status=500)
            return response.json({"status": "ok", "outcomes": outcomes})

        if conversations.settings.mode == "webhook":

            @x_webhook.route("/webhook", methods=["GET"])
            async def crc(request: Request) -> HTTPResponse:
                token = request.args.get("crc_token")
                if not token:
                    return response.json({"error": "crc_token missing"}, status=400)
                if not crc_token_acceptable(token):
                    error = "crc_token must be an opaque base64 token of at most 256 characters"
                    return response.json({"error": error}, status=400)
                return response.json({"response_token": signature(secret, token.encode())})

            @x_webhook.route("/webhook", methods=["POST"])
            async def activity(request: Request) -> HTTPResponse:
                return await handle(request, secret, "x-twitter-webhooks-signature")

        else:
            polled_key = self.polled_key or ""

            @x_webhook.route("/polled", methods=["POST"])
            async def polled(request: Request) -> HTTPResponse:
                return await handle(request, polled_key, POLLED_SIGNATURE_HEADER)

        @x_webhook.listener("after_server_start")
        async def check_tables(app: Any, _loop: Any) -> None:
            try:
                await asyncio.to_thread(require_current, customer_database_url())
            except SchemaNotCurrent as exc:  # deliveries fail (and are delivered again) until then
                logger.error("X channel: %s", exc)
            mode = conversations.settings.mode
            logger.info("X channel on (%s mode; the worker polls and delivers)", mode)

        return x_webhook
