"""The customer context packet: everything an agent needs when they take over a chat.

Built from a conversation's Rasa events (as the action server, the Rasa HTTP API and the
event broker all expose them) plus the customer store, so the agent never has to ask
the customer to repeat themselves. The Slack handoff renders it; ``to_dict`` is its
JSON form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from bot.customer_history import EarlierHandoff, LastSurvey, earlier_handoffs, last_survey
from bot.customers import (
    ConversationRecord,
    CustomerRecord,
    CustomerStore,
    OrderItemRecord,
    OrderRecord,
    normalise_order_number,
)
from bot.customers.records import to_jsonable
from bot.redact import redact
from bot.redact_rules import REDACTED
from bot.return_reasons import REASON_CODES

# Slots that are bookkeeping, not something the customer told us (the one-time code least of all).
INTERNAL_SLOTS = frozenset(
    {"requested_slot", "session_started_metadata", "handoff_reason", "pending_action", "identity_code"}
)
# Facts that name an account or an order: shown to the agent only when they are this
# customer's own (see verified_facts); anything typed can be someone else's.
ORDER_FACTS = frozenset({"order_number", "pending_order"})
EMAIL_FACTS = frozenset({"email"})
# The return form's reason buttons (utter_ask_return_reason in domain.yml); any other value
# of the slot return_reason is the customer's own words (redacted by the form).
RETURN_REASON_CODES = frozenset(REASON_CODES)
# ReturnSummary.state of a return the form has not opened yet (items or reason given, no yes).
RETURN_NOT_CONFIRMED = "not_confirmed"


@dataclass(frozen=True)
class TranscriptLine:
    role: str  # "customer" or "bot"
    text: str
    timestamp: datetime | None = None
    intent: str | None = None
    confidence: float | None = None
    entities: tuple[dict[str, Any], ...] = ()
    sentiment: dict[str, Any] | None = None  # from SentimentAnalyzer: label, score, anger


@dataclass(frozen=True)
class ReturnSummary:
    """The customer's latest return: which items go back and why, so the agent need not ask.

    ``state`` is the stored return's status (label_sent, received, refunded), or
    ``not_confirmed`` for one the return form is still setting up (handed off mid-form).
    ``items`` are the order's lines sent back, with their quantities.
    """

    order_number: str
    state: str
    items: tuple[OrderItemRecord, ...] = ()
    reason: str | None = None  # faulty, not_as_expected, not_needed, other
    reason_note: str | None = None  # the customer's own words, redacted
    created_on: date | None = None


@dataclass(frozen=True)
class ContextPacket:
    conversation_id: str
    channel: str
    reason: str
    customer: CustomerRecord | None
    orders: tuple[OrderRecord, ...] = ()
    recent_conversations: tuple[ConversationRecord, ...] = ()
    transcript: tuple[TranscriptLine, ...] = ()
    slots: dict[str, Any] = field(default_factory=dict)
    # Names of facts the customer typed that are not verified as theirs (values left out).
    unverified: tuple[str, ...] = ()
    # The customer's earlier handoffs (newest first) and last survey answer (bot/customer_history.py).
    earlier_handoffs: tuple[EarlierHandoff, ...] = ()
    last_survey: LastSurvey | None = None
    latest_return: ReturnSummary | None = None

    @property
    def sentiment(self) -> dict[str, Any] | None:
        """The mood to show the agent: the angriest of the customer's last three messages."""
        recent = [line.sentiment for line in self.transcript if line.role == "customer" and line.sentiment]
        return max(recent[-3:], key=lambda s: float(s.get("anger", 0.0)), default=None)

    @property
    def detected_intents(self) -> list[tuple[str, float]]:
        """(intent, confidence) of each customer message, in order."""
        return [
            (line.intent, line.confidence or 0.0)
            for line in self.transcript
            if line.role == "customer" and line.intent
        ]

    def to_dict(self) -> dict[str, Any]:
        data = to_jsonable(self)
        data["detected_intents"] = [
            {"intent": intent, "confidence": confidence} for intent, confidence in self.detected_intents
        ]
        data["sentiment"] = self.sentiment
        return data


# Rasa writes a trigger_intent call (the relay's "resolved", "unanswered") as a user event
# with this text prefix and an EXTERNAL_ intent; some clients send "/EXTERNAL_..." payloads.
EXTERNAL_INTENT_PREFIX = "EXTERNAL_"
EXTERNAL_TEXT_PREFIXES = ("EXTERNAL: ", "/EXTERNAL")


def is_internal(event: Mapping[str, Any]) -> bool:
    """A user event the system sent itself (a handoff trigger), not something the customer wrote."""
    intent = str(((event.get("parse_data") or {}).get("intent") or {}).get("name") or "")
    text = str(event.get("text") or "")
    return intent.startswith(EXTERNAL_INTENT_PREFIX) or text.startswith(EXTERNAL_TEXT_PREFIXES)


def offered_buttons(event: Mapping[str, Any]) -> dict[str, str]:
    """Payload -> title of the buttons (and quick replies) a bot message offered."""
    data = event.get("data") or {}
    offered: dict[str, str] = {}
    for button in [*(data.get("buttons") or ()), *(data.get("quick_replies") or ())]:
        if isinstance(button, Mapping) and button.get("payload") and button.get("title"):
            offered[str(button["payload"]).strip()] = str(button["title"])
    return offered


def transcript_from_events(events: Iterable[Mapping[str, Any]]) -> list[TranscriptLine]:
    """The conversation as people read it, oldest first, with NLU results, secrets redacted.

    Redacted here, before the packet is stored (the handoff row, the card, the inbox), not
    only when a desk shows it: the bot's lines too, since it can echo what the customer
    typed ("\"4111 …\" doesn't look like an order number").

    A button click shows the button's title ("Where is my order?"), not the payload Rasa
    records as the text (``/inform{"order_number": …}``): the bot message before it offered
    the buttons. The system's own triggers (``EXTERNAL_handoff_unanswered`` …) are left out.
    """
    lines: list[TranscriptLine] = []
    buttons: dict[str, str] = {}
    for event in events:
        kind = event.get("event")
        if kind == "bot":
            buttons = offered_buttons(event) or buttons
        if kind not in ("user", "bot") or not event.get("text"):
            continue
        timestamp = event.get("timestamp")
        when = datetime.fromtimestamp(timestamp, tz=timezone.utc) if timestamp else None
        if kind == "bot":
            lines.append(TranscriptLine(role="bot", text=redact(str(event["text"])), timestamp=when))
            continue
        if is_internal(event):
            continue
        parse = event.get("parse_data") or {}
        intent = parse.get("intent") or {}
        text = str(event["text"])
        shown = redact(buttons.get(text.strip(), text))
        lines.append(
            TranscriptLine(
                role="customer",
                text=shown,
                timestamp=when,
                intent=intent.get("name"),
                confidence=intent.get("confidence"),
                entities=tuple(
                    {"entity": e.get("entity"), "value": _entity_value(e.get("value"), text, shown)}
                    for e in parse.get("entities") or ()
                ),
                sentiment=parse.get("sentiment"),
            )
        )
    return lines


def filled_slots(slots: Mapping[str, Any]) -> dict[str, Any]:
    """Slots with a value the customer gave us (bookkeeping slots left out)."""
    return {
        name: _redacted(value)
        for name, value in slots.items()
        if value is not None and name not in INTERNAL_SLOTS
    }


def _entity_value(value: Any, text: str, shown: str) -> Any:
    """An entity's value, unless redaction removed it from the message it was found in.

    "verification code: 583920" yields an order-number entity ``583920``: on its own the
    value looks harmless, but it is the code the message's redaction took out.
    """
    if isinstance(value, str) and value and value in text and value not in shown:
        return REDACTED
    return _redacted(value)


def _redacted(value: Any) -> Any:
    """A slot or entity value as the packet stores it: free text (a left message) redacted."""
    return redact(value) if isinstance(value, str) else value


def build_context_packet(
    *,
    conversation_id: str,
    channel: str,
    events: Iterable[Mapping[str, Any]],
    slots: Mapping[str, Any],
    reason: str,
    store: CustomerStore | None,
    recent_limit: int = 5,
    handoff_limit: int = 5,
) -> ContextPacket:
    """Assemble the packet for one conversation.

    ``store`` may be None (or unreachable, which raises ``SQLAlchemyError`` to the
    caller); the packet then carries only what the conversation itself holds.
    """
    transcript = tuple(transcript_from_events(events))
    customer = orders = recent = handoffs = survey = None
    if store is not None:
        customer = store.find_by_identity(channel, conversation_id)
        if customer is not None:
            orders = store.orders_for(customer.id)
            recent = store.recent_conversations(customer.id, limit=recent_limit)
            # Built before this handoff is stored, so every handoff found is an earlier one.
            handoffs = earlier_handoffs(store, customer.id, limit=handoff_limit)
            survey = last_survey(store, customer.id)
    known, unverified = verified_facts(
        {**mentioned_entities(transcript), **filled_slots(slots)}, customer, orders or ()
    )
    return ContextPacket(
        conversation_id=conversation_id,
        channel=channel,
        reason=reason,
        customer=customer,
        orders=tuple(orders or ()),
        recent_conversations=tuple(recent or ()),
        transcript=transcript,
        slots=known,
        unverified=unverified,
        earlier_handoffs=tuple(handoffs or ()),
        last_survey=survey,
        latest_return=latest_return(orders or (), known),
    )


def latest_return(orders: Iterable[OrderRecord], facts: Mapping[str, Any]) -> ReturnSummary | None:
    """The return the return form is setting up, else the newest stored one, else None.

    ``facts``: the verified facts (see verified_facts), so the form's order counts only when
    it is this customer's own. The form's slots hold a return only until it is opened or
    declined (action_check_return clears them), so items or a reason there mean one not
    confirmed yet: newer than any stored return.
    """
    orders = list(orders)
    by_number = {order.number: order for order in orders}
    draft = by_number.get(normalise_order_number(str(facts.get("order_number") or "")))
    chosen = facts.get("return_items")
    chosen = [str(p) for p in chosen] if isinstance(chosen, list | tuple) else []
    reason = str(facts.get("return_reason") or "").strip()
    if draft is not None and (chosen or reason):
        lines = draft.lines_of(chosen) if chosen else draft.items if len(draft.items) == 1 else ()
        code, note = (reason, None) if reason in RETURN_REASON_CODES else ("other", redact(reason))
        return ReturnSummary(
            draft.number, RETURN_NOT_CONFIRMED, tuple(lines), code if reason else None, note or None
        )
    stored = [(order, ret) for order in orders for ret in order.returns]
    if not stored:
        return None
    order, ret = max(stored, key=lambda pair: (pair[1].created_on, pair[1].id))
    lines = order.lines_of(ret.items) if ret.items else order.items  # () : the whole order (older returns)
    return ReturnSummary(order.number, ret.status, tuple(lines), ret.reason, ret.reason_note, ret.created_on)


def verified_facts(
    facts: Mapping[str, Any], customer: CustomerRecord | None, orders: Iterable[OrderRecord]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The facts an agent may act on, and the names of those left out as unverified.

    Why: a slot or entity holds what the customer *typed*, including another customer's
    order number (a refused lookup) or email (typed into a password reset). On the card it
    would read as a fact about this customer. An order number counts only if it is one of
    this customer's orders, an email only if it is the one on their account; the rest is
    named as unverified without its value.
    """
    own_orders = {order.number for order in orders}
    own_email = (customer.email or "").strip().lower() if customer else ""
    known: dict[str, Any] = {}
    unverified: list[str] = []
    for name, value in facts.items():
        if name in ORDER_FACTS:
            ok = normalise_order_number(str(value)) in own_orders
        elif name in EMAIL_FACTS:
            ok = bool(own_email) and str(value).strip().lower() == own_email
        else:
            ok = True
        if ok:
            known[name] = value
        elif name not in unverified:
            unverified.append(name)
    return known, tuple(unverified)


def mentioned_entities(transcript: Iterable[TranscriptLine]) -> dict[str, Any]:
    """Latest value of each entity the customer mentioned (forms may have reset the slot since)."""
    known: dict[str, Any] = {}
    for line in transcript:
        for entity in line.entities if line.role == "customer" else ():
            if entity.get("entity") and entity.get("value") is not None:
                known[str(entity["entity"])] = entity["value"]
    return known
