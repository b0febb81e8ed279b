"""Slack Block Kit rendering of a human handoff for the agents' channel.

The card is the agent's whole briefing: who the customer is, why the bot gave up, what was
said, what we already know and what they ordered, so nobody asks the customer to repeat
themselves. It is rebuilt from the context packet (``ContextPacket.to_dict()``) and a
:class:`CardState` every time the handoff changes, so claiming or resolving just re-renders.

Safety rules, because the packet is mostly text strangers typed into a chat box:

* Everything customer-written goes through :func:`~bot.handoff.redact.redact` (card numbers,
  passwords and tokens must never reach Slack) and then through
  :func:`~bot.handoff.slack_text.safe_text` / ``escape_mrkdwn`` so ``<!channel>``, ``<@U…>``,
  ``<http…|…>`` and ``@here`` render as inert text instead of pinging or linking.
* Every ``mrkdwn`` object carries ``verbatim: true`` so Slack does not auto-link bare URLs,
  channel names or user names found in that text either.
* Text that has already been escaped is only ever cut with :func:`_cut` (entity-aware), never
  escaped again, so agents do not see ``&amp;amp;``.
* Block Kit limits are enforced here rather than left to Slack, which rejects the whole
  message (and thus the handoff notification) when one limit is exceeded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from bot.handoff.redact import redact
from bot.handoff.slack_text import escape_mrkdwn, safe_text

# Action ids the interactivity handler dispatches on; every button's value is the handoff id.
CLAIM = "handoff_claim"
RESOLVE = "handoff_resolve"
TRANSCRIPT = "handoff_transcript"
ACTIONS_BLOCK_ID = "handoff_actions"
TRANSCRIPT_MODAL_CALLBACK = "handoff_transcript_modal"

STATUSES = ("waiting", "claimed", "resolved", "timed_out", "after_hours")

# Block Kit limits (https://docs.slack.dev/reference/block-kit).
MAX_MESSAGE_BLOCKS = 50
MAX_MODAL_BLOCKS = 100
MODAL_BLOCK_BUDGET = 95  # keep headroom under the hard limit for notices
SECTION_TEXT_LIMIT = 3000
MAX_SECTION_FIELDS = 10
FIELD_TEXT_LIMIT = 2000
HEADER_TEXT_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
MODAL_TITLE_LIMIT = 24
CONFIRM_TITLE_LIMIT = 100
CONFIRM_TEXT_LIMIT = 300
CONFIRM_BUTTON_LIMIT = 30

# How much of each item the card shows; the modal has the full transcript.
CARD_LINE_LIMIT = 500
MODAL_LINE_LIMIT = 12_000
NAME_LIMIT = 80
SLOT_VALUE_LIMIT = 300
SUMMARY_LIMIT = 200
MAX_ORDERS = 5
MAX_RECENT = 3
MAX_SLOTS = 15
MAX_INTENTS = 12

# Rasa input channel name -> what agents call it.
CHANNEL_LABELS = {
    "socketio": "Website chat",
    "rest": "REST API",
    "twitter": "X (Twitter) DM",
    "slack": "Slack Connect",
    "telegram": "Telegram",
    "facebook": "Messenger",
    "twilio": "WhatsApp/SMS",
}
IDENTITY_LABELS = {**CHANNEL_LABELS, "twitter": "X"}

CURRENCY_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€"}

SENTIMENT_EMOJI = {
    "angry": ":rage:",
    "negative": ":slightly_frowning_face:",
    "neutral": ":neutral_face:",
    "positive": ":slightly_smiling_face:",
}

ORDER_STATUS_EMOJI = {
    "processing": ":hourglass_flowing_sand:",
    "shipped": ":truck:",
    "delivered": ":package:",
    "returned": ":leftwards_arrow_with_hook:",
    "cancelled": ":x:",
}

# Only real X handles become profile URLs; anything else is shown as escaped text.
X_HANDLE = re.compile(r"@?([A-Za-z0-9_]{1,15})")
ENTITY_TAIL = re.compile(r"&[A-Za-z0-9#]{0,8}$")


@dataclass(frozen=True)
class CardState:
    """Where a handoff stands; the card is a pure function of the packet and this."""

    handoff_id: int
    status: str  # "waiting" | "claimed" | "resolved" | "timed_out" | "after_hours"
    claimed_by: str | None = None  # agent display name
    resolved_by: str | None = None
    note: str | None = None  # e.g. "No one claimed within 5 min — the bot offered to take a message"

    def __post_init__(self) -> None:
        # A typo'd status would silently show the wrong buttons to every agent.
        if self.status not in STATUSES:
            raise ValueError(f"unknown handoff status {self.status!r}; expected one of {STATUSES}")


# --------------------------------------------------------------------------- text helpers


def _units(text: str) -> int:
    """Length as Slack may count it: UTF-16 code units (an emoji is two), never fewer than chars."""
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, limit: int) -> int:
    """How many leading characters of ``text`` fit in ``limit`` UTF-16 units."""
    if _units(text) <= limit:
        return len(text)
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def _cut(escaped: str, limit: int) -> str:
    """Shorten already-escaped text to ``limit`` units (with …) without splitting an entity.

    Assembled text is cut here rather than with ``safe_text``, which would escape it again.
    """
    if _units(escaped) <= limit:
        return escaped
    head = escaped[: _fit(escaped, max(limit - 1, 0))]
    head = ENTITY_TAIL.sub("", head)  # never leave a dangling "&am"
    return head.rstrip() + "…"


def _clean(text: Any, limit: int) -> str:
    """Customer-written text: redacted, escaped, truncated. The one gate for untrusted text.

    Redaction sees the whole text (a card number must not survive half-cut at the limit);
    only then is it trimmed to a little over ``limit``, because ``safe_text`` measures every
    character and a card re-renders 200 ten-thousand-character messages on each update.
    Escaping only lengthens text, so ``safe_text`` still cuts and adds the ellipsis.
    """
    if text is None:
        return ""
    redacted = redact(str(text))
    if len(redacted) > limit + 16:
        redacted = redacted[: limit + 16]
    return _cut(safe_text(redacted, limit), limit)


def _own(text: Any, limit: int = 300) -> str:
    """Our own data (order numbers, products, agent names): escaped and truncated, not redacted.

    Redaction would eat tracking numbers that look like card numbers; escaping still
    applies because this text ends up in mrkdwn too.
    """
    if text is None:
        return ""
    return _cut(escape_mrkdwn(str(text)), limit)


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text or " ", "verbatim": True}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(text, limit) or " ", "emoji": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(_cut(text, SECTION_TEXT_LIMIT))}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(_cut(text, SECTION_TEXT_LIMIT))]}


def _humanise(word: Any) -> str:
    """``resolved_by_agent`` -> ``Resolved by agent``."""
    text = str(word or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _split(escaped: str, limit: int) -> list[str]:
    """Split escaped text into pieces of ≤ ``limit`` units, at whitespace if possible, never in an entity."""
    pieces: list[str] = []
    rest = escaped
    while _units(rest) > limit:
        size = _fit(rest, limit)
        window = rest[:size]
        cut = max(window.rfind("\n", size // 2), window.rfind(" ", size // 2))
        if cut <= 0:
            cut = size
            match = ENTITY_TAIL.search(window)
            if match and match.start() > 0:
                cut = match.start()
        piece = rest[:cut].rstrip()
        if piece:
            pieces.append(piece)
        rest = rest[cut:].lstrip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def _pack(lines: Sequence[Sequence[str]], limit: int) -> list[str]:
    """Greedily join lines (each a list of pieces ≤ limit) into texts ≤ limit units."""
    sections: list[str] = []
    current = ""
    for pieces in lines:
        for piece in pieces:
            if not current:
                current = piece
            elif _units(current) + 1 + _units(piece) <= limit:
                current += "\n" + piece
            else:
                sections.append(current)
                current = piece
    if current:
        sections.append(current)
    return sections


def _pack_latest(lines: Sequence[Sequence[str]], limit: int, max_sections: int) -> tuple[list[str], int]:
    """Pack the longest suffix of ``lines`` that fits in ``max_sections``; returns (texts, lines dropped).

    Greedy packing of a shorter suffix never needs more sections, so a binary search on
    the first kept line finds the most recent lines that fit.
    """
    if max_sections <= 0:
        return [], len(lines)
    low, high = 0, len(lines)
    while low < high:
        middle = (low + high) // 2
        if len(_pack(lines[middle:], limit)) <= max_sections:
            high = middle
        else:
            low = middle + 1
    return _pack(lines[low:], limit), low


def _join_capped(
    heading: str, lines: Sequence[str], limit: int, noun: str, max_lines: int | None = None
) -> str:
    """Heading plus as many whole lines as fit (and ``max_lines``), then "…and N more <noun>".

    Room for the "more" note is reserved while adding lines, so cutting short always fits.
    """
    cap = len(lines) if max_lines is None else max_lines
    reserve = _units(f"\n_…and {len(lines)} more {noun}_")
    text = heading
    for index, line in enumerate(lines):
        last = index == len(lines) - 1
        if index >= cap or _units(text) + 1 + _units(line) + (0 if last else reserve) > limit:
            return text + f"\n_…and {len(lines) - index} more {noun}_"
        text += "\n" + line
    return text


# --------------------------------------------------------------------------- value formatting


def _parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float):
            when = datetime.fromtimestamp(value, tz=timezone.utc)
        else:
            when = datetime.fromisoformat(str(value))
    except (ValueError, OverflowError, OSError):
        return None
    if when.tzinfo is None:  # the packet stores UTC; a naive value is UTC too
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def _clock(value: Any) -> str:
    """``HH:MM`` in UTC, or "" when the line has no usable timestamp."""
    when = _parse_time(value)
    return when.strftime("%H:%M") if when else ""


def _day(value: Any) -> str:
    """``5 Nov 2026`` from an ISO date or datetime; unparseable input is shown escaped as-is."""
    if not value:
        return ""
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return _own(value, 40)
    return f"{day.day} {day:%b %Y}"


def format_money(cents: Any, currency: Any) -> str:
    """``£129.00`` for currencies agents know by symbol, else ``129.00 CHF``."""
    try:
        amount = int(cents)
    except (TypeError, ValueError):
        return ""
    whole, fraction = divmod(abs(amount), 100)
    sign = "-" if amount < 0 else ""
    code = str(currency or "").upper()
    symbol = CURRENCY_SYMBOLS.get(code)
    if symbol:
        return f"{sign}{symbol}{whole:,}.{fraction:02d}"
    return _own(f"{sign}{whole:,}.{fraction:02d} {code}".strip(), 40)


def mask_email(email: Any) -> str:
    """``m•••@example.com``: enough for an agent to confirm, not enough to leak in a screenshot."""
    text = str(email or "").strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        return "•••"
    return _clean(f"{local[0]}•••@{domain}", 120)


def channel_label(channel: Any) -> str:
    """Agent-facing name of a Rasa input channel (escaped)."""
    name = str(channel or "").strip()
    return _own(CHANNEL_LABELS.get(name.lower(), name or "unknown channel"), 60)


def _confidence(value: Any) -> str:
    try:
        return f"{float(value):.2f}"
    except (TypeError, ValueError):
        return ""


def _intent_tag(intent: Any, confidence: Any) -> str:
    if not intent:
        return ""
    score = _confidence(confidence)
    return _own(f"{intent} {score}".strip(), 80)


# --------------------------------------------------------------------------- card pieces


def _customer_name(packet: Mapping[str, Any]) -> str:
    customer = packet.get("customer") or {}
    return _clean(customer.get("name"), NAME_LIMIT) if customer.get("name") else ""


def _header(packet: Mapping[str, Any]) -> dict[str, Any]:
    who = _customer_name(packet) or "New customer"
    return {
        "type": "header",
        "text": _plain(f":raising_hand: Customer needs a person — {who}", HEADER_TEXT_LIMIT),
    }


def _status_line(state: CardState) -> str:
    claimed_by = _own(state.claimed_by, NAME_LIMIT) or "an agent"
    if state.status == "waiting":
        line = ":hourglass_flowing_sand: *Waiting for an agent* — claim it to take over the chat"
    elif state.status == "claimed":
        line = f":technologist: *Claimed by {claimed_by}* — they are talking to the customer"
    elif state.status == "resolved":
        by = _own(state.resolved_by or state.claimed_by, NAME_LIMIT)
        line = ":white_check_mark: *Resolved — back with the bot*" + (f" by {by}" if by else "")
    elif state.status == "timed_out":
        line = ":alarm_clock: *Timed out* — no one claimed it in time"
    else:
        line = ":crescent_moon: *After hours* — no agents on shift"
    if state.note:
        line += "\n_" + _clean(state.note, 500) + "_"
    return line


def _customer_field(packet: Mapping[str, Any]) -> str:
    customer = packet.get("customer")
    if not customer:
        return "*Customer*\nNew customer — not in our records"
    lines = [_customer_name(packet) or "_Name unknown_"]
    if customer.get("id") is not None:
        lines[0] += f" (#{_own(customer.get('id'), 20)})"
    details = [
        mask_email(customer["email"]) if customer.get("email") else "",
        _clean(customer.get("plan"), 60),
    ]
    details = [d for d in details if d]
    if details:
        lines.append(" · ".join(details))
    devices = [_clean(device, 60) for device in customer.get("devices") or ()]
    if devices:
        lines.append("Devices: " + ", ".join(devices[:6]) + (" …" if len(devices) > 6 else ""))
    return "*Customer*\n" + "\n".join(lines)


def _identities_field(packet: Mapping[str, Any]) -> str:
    customer = packet.get("customer") or {}
    lines = []
    for identity in customer.get("identities") or ():
        handle = identity.get("handle")
        if not handle:
            continue
        channel = str(identity.get("channel") or "")
        label = _own(IDENTITY_LABELS.get(channel.lower(), channel or "other"), 40)
        shown = _clean(handle, 60)
        match = X_HANDLE.fullmatch(str(handle).strip())
        if channel.lower() == "twitter" and match:
            shown += " · " + _own(f"https://x.com/{match.group(1)}", 60)
        lines.append(f"{label}: {shown}")
    return "*Identities*\n" + "\n".join(lines[:8]) if lines else ""


def _sentiment_field(packet: Mapping[str, Any]) -> str:
    sentiment = packet.get("sentiment")
    if not isinstance(sentiment, Mapping) or not sentiment.get("label"):
        return ""
    label = str(sentiment.get("label")).lower()
    emoji = SENTIMENT_EMOJI.get(label, ":grey_question:")
    text = f"{emoji} {_own(_humanise(label), 30)}"
    anger = _confidence(sentiment.get("anger"))
    if anger:
        text += f" · anger {anger}"
    return "*Sentiment*\n" + text


def _fields_section(packet: Mapping[str, Any]) -> dict[str, Any]:
    fields = [
        _customer_field(packet),
        "*Channel*\n" + channel_label(packet.get("channel")),
        _identities_field(packet),
        "*Reason*\n" + (_clean(packet.get("reason"), 500) or "_not given_"),
        _sentiment_field(packet),
        "*Conversation*\n" + (_clean(packet.get("conversation_id"), 200) or "_unknown_"),
    ]
    return {
        "type": "section",
        "fields": [_mrkdwn(_cut(field, FIELD_TEXT_LIMIT)) for field in fields if field][:MAX_SECTION_FIELDS],
    }


def _role_label(role: Any) -> str:
    if role == "customer":
        return "*Customer:*"
    if role == "bot":
        return "_Bot:_"
    return "*" + (_own(_humanise(role), 30) or "Unknown") + ":*"


def _transcript_line(line: Mapping[str, Any], *, limit: int, compact: bool) -> str:
    """One message as mrkdwn: `HH:MM` *Customer:* text `intent 0.93`."""
    raw = str(line.get("text") or "")
    if compact:  # the card shows each message on one line; the modal keeps line breaks
        raw = " ".join(raw.split())
    body = _clean(raw, limit) or "_(no text)_"
    clock = _clock(line.get("timestamp"))
    rendered = (f"`{clock}` " if clock else "") + f"{_role_label(line.get('role'))} {body}"
    if line.get("role") == "customer":
        tag = _intent_tag(line.get("intent"), line.get("confidence"))
        if tag:
            rendered += f"  `{tag}`"
    return rendered


def _intents_block(packet: Mapping[str, Any]) -> dict[str, Any] | None:
    detected = packet.get("detected_intents")
    if detected is None:  # older packets: derive from the transcript
        detected = [
            {"intent": line.get("intent"), "confidence": line.get("confidence")}
            for line in packet.get("transcript") or ()
            if line.get("role") == "customer" and line.get("intent")
        ]
    tags = [_intent_tag(item.get("intent"), item.get("confidence")) for item in detected]
    tags = [tag for tag in tags if tag]
    if not tags:
        return None
    shown = tags[-MAX_INTENTS:]
    prefix = "… → " if len(tags) > len(shown) else ""
    return _context(":mag: *Detected intents:* " + prefix + " → ".join(shown))


def _slot_value(value: Any) -> str:
    if isinstance(value, Mapping | list | tuple):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return _clean(value, SLOT_VALUE_LIMIT)


def _slots_section(packet: Mapping[str, Any]) -> dict[str, Any] | None:
    slots = {k: v for k, v in (packet.get("slots") or {}).items() if v not in (None, "", [], {})}
    if not slots:
        return None
    lines = [f"• {_own(_humanise(name), 60)}: {_slot_value(value)}" for name, value in slots.items()]
    return _section(_join_capped("*What we know*", lines, SECTION_TEXT_LIMIT, "slots", MAX_SLOTS))


def _items_summary(items: Any) -> str:
    parts = []
    for item in items or ():
        product = str(item.get("product") or "item")
        quantity = item.get("quantity") or 1
        parts.append(f"{quantity} × {product}" if quantity != 1 else product)
    if not parts:
        return "no items"
    return _own(", ".join(parts), 300)


def _order_line(order: Mapping[str, Any]) -> str:
    status = str(order.get("status") or "unknown")
    emoji = ORDER_STATUS_EMOJI.get(status.lower(), ":package:")
    first = [f"{emoji} *{_own(order.get('number') or '?', 40)}*", _own(_humanise(status), 40)]
    first.append(_items_summary(order.get("items")))
    total = format_money(order.get("total_cents"), order.get("currency"))
    if total:
        first.append(total)
    second = []
    if order.get("placed_on"):
        second.append("placed " + _day(order["placed_on"]))
    if order.get("delivered_on"):
        second.append("delivered " + _day(order["delivered_on"]))
    elif order.get("expected_on"):
        second.append("expected " + _day(order["expected_on"]))
    elif order.get("shipped_on"):
        second.append("shipped " + _day(order["shipped_on"]))
    tracking = " ".join(_own(order.get(key), 60) for key in ("carrier", "tracking_number") if order.get(key))
    if tracking:
        second.append(tracking)
    for ret in (order.get("returns") or ())[:3]:
        text = "return " + _own(ret.get("status") or "open", 30)
        refund = format_money(ret.get("refund_cents"), order.get("currency"))
        if refund and ret.get("refund_cents"):
            text += " " + refund
        if ret.get("refunded_on"):
            text += " on " + _day(ret["refunded_on"])
        second.append(text)
    line = " · ".join(first)
    return line + ("\n      " + " · ".join(second) if second else "")


def _orders_section(packet: Mapping[str, Any]) -> dict[str, Any] | None:
    orders = list(packet.get("orders") or ())
    if not orders:
        return _section("*Orders*\n_No orders on record_") if packet.get("customer") else None
    lines = [_order_line(order) for order in orders]
    return _section(_join_capped("*Orders*", lines, SECTION_TEXT_LIMIT, "orders", MAX_ORDERS))


def _recent_section(packet: Mapping[str, Any]) -> dict[str, Any] | None:
    recent = list(packet.get("recent_conversations") or ())[:MAX_RECENT]
    if not recent:
        return None
    lines = []
    for conversation in recent:
        parts = [_day(conversation.get("started_at")), channel_label(conversation.get("channel"))]
        parts.append(_own(_humanise(conversation.get("outcome") or "unknown"), 60))
        line = "• " + " · ".join(part for part in parts if part)
        if conversation.get("handoff_reason"):
            line += f" (handoff: {_clean(conversation['handoff_reason'], 120)})"
        summary = _clean(" ".join(str(conversation.get("summary") or "").split()), SUMMARY_LIMIT)
        if summary:
            line += f" — {summary}"
        lines.append(line)
    return _section(_join_capped("*Recent conversations*", lines, SECTION_TEXT_LIMIT, "conversations"))


def _button(text: str, action_id: str, handoff_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "text": _plain(text, BUTTON_TEXT_LIMIT),
        "action_id": action_id,
        "value": str(handoff_id),
        **extra,
    }


def _actions_block(state: CardState) -> dict[str, Any]:
    elements = []
    if state.status not in ("claimed", "resolved"):
        elements.append(_button("Claim", CLAIM, state.handoff_id, style="primary"))
    if state.status in ("waiting", "claimed"):
        confirm = {
            "title": _plain("Hand back to the bot?", CONFIRM_TITLE_LIMIT),
            "text": _plain(
                "The bot will answer this customer again. Make sure you have finished helping them.",
                CONFIRM_TEXT_LIMIT,
            ),
            "confirm": _plain("Resolve", CONFIRM_BUTTON_LIMIT),
            "deny": _plain("Keep the chat", CONFIRM_BUTTON_LIMIT),
        }
        elements.append(_button("Resolve — hand back to bot", RESOLVE, state.handoff_id, confirm=confirm))
    elements.append(_button("Full transcript", TRANSCRIPT, state.handoff_id))
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": elements}


def _message_sections(packet: Mapping[str, Any], transcript_lines: int, budget: int) -> list[dict[str, Any]]:
    """The "Last messages" sections: the latest lines that fit both the line count and block budget."""
    transcript = list(packet.get("transcript") or ())
    wanted = transcript[-transcript_lines:] if transcript_lines > 0 else []
    if not wanted:
        return [_section("*Last messages*\n_No messages yet._")] if budget > 0 else []
    rendered = [[_transcript_line(line, limit=CARD_LINE_LIMIT, compact=True)] for line in wanted]
    # Leave room in the first section for the heading, whose counts are known only after packing.
    room = SECTION_TEXT_LIMIT - 120
    texts, dropped = _pack_latest(rendered, room, budget)
    if not texts:
        return []
    kept = len(wanted) - dropped
    heading = f"*Last messages* ({kept} of {len(transcript)}, times UTC)"
    if kept < len(transcript):
        heading += " — _Full transcript_ has the rest"
    blocks = [_section(heading + "\n" + texts[0])]
    blocks.extend(_section(text) for text in texts[1:])
    return blocks


# --------------------------------------------------------------------------- public API


def card_blocks(
    packet: Mapping[str, Any], state: CardState, *, transcript_lines: int = 8
) -> list[dict[str, Any]]:
    """The handoff card posted to (and updated in) the agents' channel.

    Fixed parts are built first so the transcript gets whatever is left of the 50-block
    budget; a long ``transcript_lines`` therefore shrinks to the latest messages instead of
    making Slack reject the card.
    """
    head = [_header(packet), _section(_status_line(state)), _fields_section(packet), {"type": "divider"}]
    tail = [
        block
        for block in (
            _intents_block(packet),
            _slots_section(packet),
            _orders_section(packet),
            _recent_section(packet),
        )
        if block is not None
    ]
    tail.append(_actions_block(state))
    budget = MAX_MESSAGE_BLOCKS - len(head) - len(tail)
    return head + _message_sections(packet, transcript_lines, budget) + tail


def card_text(packet: Mapping[str, Any], state: CardState) -> str:
    """Notification / fallback text for the card (what push notifications and screen readers get)."""
    who = _customer_name(packet) or "a new customer"
    reason = _clean(packet.get("reason"), 200) or "no reason given"
    prefix = {
        "waiting": "Handoff",
        "claimed": f"Handoff claimed by {_own(state.claimed_by, NAME_LIMIT) or 'an agent'}",
        "resolved": "Handoff resolved",
        "timed_out": "Handoff timed out",
        "after_hours": "After-hours handoff",
    }[state.status]
    return _cut(f"{prefix}: {who} on {channel_label(packet.get('channel'))} — {reason}", 400)


def customer_message_text(text: str) -> str:
    """A thread reply relaying what the customer wrote after the handoff (redacted and escaped)."""
    prefix = ":speech_balloon: *Customer:* "
    body = _clean(text, SECTION_TEXT_LIMIT - _units(prefix)) or "_(no text)_"
    return prefix + body


_STATUS_KINDS = (
    "claimed",
    "resolved",
    "delivery_failed",
    "how_to",
    "notes_hint",
    "followup",
    "not_sent_resolved",
    "timed_out",
    "after_hours",
)


def status_text(kind: str, **kw: Any) -> str:
    """Short thread notices about the handoff (mrkdwn for a reply in the card's thread).

    Kinds and their keywords:

    * ``claimed`` / ``resolved`` (``agent``): who took over / handed back to the bot.
    * ``delivery_failed`` (``error``): an agent's reply could not be delivered to the customer.
    * ``how_to`` / ``notes_hint`` (``prefix``, default ``//``): replies go to the customer,
      internal notes start with the prefix.
    * ``followup`` (``text``): the message a customer left after nobody claimed the handoff.
    * ``not_sent_resolved``: an agent replied after the handoff was resolved; it was not sent.
    * ``timed_out`` (``minutes`` or ``note``), ``after_hours`` (``note``).

    Every value is escaped; ``error``, ``note`` and ``text`` are also redacted because they
    can quote what the customer wrote. An unknown kind raises ``ValueError`` so a typo fails
    loudly in tests instead of posting a wrong notice.
    """
    agent = _own(kw.get("agent"), NAME_LIMIT) or "an agent"
    note = _clean(kw.get("note"), 500)
    if kind == "claimed":
        return f":technologist: Claimed by {agent}"
    if kind == "resolved":
        return f":white_check_mark: Resolved by {agent} — the bot is back"
    if kind == "delivery_failed":
        error = _clean(kw.get("error"), 500) or "unknown error"
        return f":warning: Delivery to the customer failed: {error}"
    if kind in ("how_to", "notes_hint"):
        prefix = _own(kw.get("prefix") or "//", 20)
        return (
            ":memo: Replies in this thread go to the customer (claiming the handoff if needed). "
            f"Internal notes start with {prefix} and are not sent."
        )
    if kind == "followup":
        body = _clean(kw.get("text"), SECTION_TEXT_LIMIT - 100) or "_(no text)_"
        return f":envelope_with_arrow: *The customer left a message:* {body}"
    if kind == "not_sent_resolved":
        return ":no_entry_sign: Not sent — this handoff is resolved and the bot is back with the customer."
    if kind == "timed_out":
        if note:
            return f":alarm_clock: {note}"
        minutes = kw.get("minutes")
        within = f" within {_own(minutes, 10)} min" if minutes is not None else ""
        return f":alarm_clock: No one claimed this{within} — the bot offered to take a message"
    if kind == "after_hours":
        return (
            f":crescent_moon: {note}"
            if note
            else ":crescent_moon: Outside support hours — no agents on shift"
        )
    raise ValueError(f"unknown status kind {kind!r}; expected one of {_STATUS_KINDS}")


def transcript_modal(
    packet: Mapping[str, Any], transcript: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The "Full transcript" modal: every line, long ones split across sections.

    ``transcript`` overrides the packet's (e.g. the conversation as it is now, including
    messages after the handoff). Past ~95 blocks the oldest lines are dropped and counted,
    because Slack refuses a view with more than 100 blocks.
    """
    lines = list(packet.get("transcript") or ()) if transcript is None else list(transcript)
    rendered = [
        _split(_transcript_line(line, limit=MODAL_LINE_LIMIT, compact=False), SECTION_TEXT_LIMIT)
        for line in lines
    ]
    who = _customer_name(packet) or "New customer"
    summary = (
        f"{who} · {channel_label(packet.get('channel'))} · "
        f"conversation {_clean(packet.get('conversation_id'), 200) or 'unknown'} · "
        f"{len(lines)} messages · times UTC"
    )
    blocks: list[dict[str, Any]] = [_context(summary)]
    texts, dropped = _pack_latest(rendered, SECTION_TEXT_LIMIT, MODAL_BLOCK_BUDGET - 2)
    if dropped:
        blocks.append(_context(f":scissors: {dropped} earlier lines omitted — only the latest fit in Slack"))
    blocks.extend(_section(text) for text in texts)
    if not lines:
        blocks.append(_section("_No messages yet._"))
    return {
        "type": "modal",
        "callback_id": TRANSCRIPT_MODAL_CALLBACK,
        "title": _plain("Full transcript", MODAL_TITLE_LIMIT),
        "close": _plain("Close", MODAL_TITLE_LIMIT),
        "blocks": blocks[:MAX_MODAL_BLOCKS],
    }
