"""The local inbox's view of a handoff, as plain text: no Slack entities, no mrkdwn, no emoji codes.

Why plain text: the inbox page puts every string into the DOM as text (never as HTML), so
what is stored here is exactly what the agent reads; ``<`` stays ``<`` instead of turning
into ``&lt;``. Customer-written text is still redacted (card numbers, passwords, tokens)
before it is stored or shown, exactly as on Slack.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.customer_history import score_text
from bot.formatting import clock, format_money, long_date, mask_email
from bot.handoff.desks import notices
from bot.handoff.desks.base import CardState
from bot.handoff.desks.labels import channel_label, language_label
from bot.handoff.desks.return_fact import NO_ITEMS, return_fact
from bot.handoff.states import HandoffStatus
from bot.redact import redact

TEXT_LIMIT = 4000  # a message in the inbox; the whole conversation is in the transcript
NAME_LIMIT = 80

_STATUS_LINES = {
    HandoffStatus.WAITING: "Waiting for an agent — claim it to take over the chat",
    HandoffStatus.CLAIMED: "Claimed by {agent} — they are talking to the customer",
    HandoffStatus.RESOLVED: "Resolved — back with the bot",
    HandoffStatus.TIMED_OUT: "Timed out — no one claimed it in time",
    HandoffStatus.AFTER_HOURS: "After hours — no agents on shift",
}
_CARD_PREFIXES = {
    HandoffStatus.WAITING: "Handoff",
    HandoffStatus.CLAIMED: "Handoff claimed by {agent}",
    HandoffStatus.RESOLVED: "Handoff resolved",
    HandoffStatus.TIMED_OUT: "Handoff timed out",
    HandoffStatus.AFTER_HOURS: "After-hours handoff",
}


def untrusted(text: Any, limit: int = TEXT_LIMIT) -> str:
    """Customer-written text for the inbox: redacted and shortened; never escaped (the page shows text)."""
    if text is None:
        return ""
    redacted = redact(str(text))
    return redacted if len(redacted) <= limit else redacted[: limit - 1].rstrip() + "…"


def _short(text: Any, limit: int) -> str:
    value = str(text or "")
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


# Plain text: values are only shortened; what can quote the customer is redacted too.
PLAIN = notices.Style(own=_short, untrusted=untrusted, body_limit=TEXT_LIMIT)


def customer_name(packet: Mapping[str, Any]) -> str:
    customer = packet.get("customer") or {}
    return untrusted(customer.get("name"), NAME_LIMIT)


def status_line(state: CardState) -> str:
    agent = _short(state.claimed_by, NAME_LIMIT) or "an agent"
    if state.moved_to:
        return f"Transferred to {_short(state.moved_to, NAME_LIMIT)} — it continues on that team's card"
    line = _STATUS_LINES[state.status].format(agent=agent)
    if state.status is HandoffStatus.RESOLVED and (state.resolved_by or state.claimed_by):
        line += " by " + _short(state.resolved_by or state.claimed_by, NAME_LIMIT)
    return line + (f"\n{untrusted(state.note, 500)}" if state.note else "")


def card_text(packet: Mapping[str, Any], state: CardState) -> str:
    """One line for the card and the list: who, where, why."""
    prefix = _CARD_PREFIXES[state.status].format(agent=_short(state.claimed_by, NAME_LIMIT) or "an agent")
    if state.team:  # the routed team (bot/handoff/routing.py), so a shared inbox can be split by eye
        prefix += " for " + _short(state.team, NAME_LIMIT)
    who = customer_name(packet) or "a new customer"
    reason = untrusted(packet.get("reason"), 200) or "no reason given"
    return _short(f"{prefix}: {who} on {channel_label(packet.get('channel'))} — {reason}", 400)


def notice_text(kind: str, **fields: Any) -> str:
    """A short thread notice in plain text (the same notices Slack shows; see ``Notice``)."""
    return notices.notice_text(kind, PLAIN, **fields)


def transcript(
    packet: Mapping[str, Any], lines: Sequence[Mapping[str, Any]] | None = None
) -> list[dict[str, str]]:
    """The conversation as the inbox shows it: time (UTC), who, what they wrote, the detected intent."""
    rendered = []
    for line in list(packet.get("transcript") or ()) if lines is None else lines:
        role = str(line.get("role") or "unknown")
        intent = ""
        if role == "customer" and line.get("intent"):
            try:
                intent = f"{line['intent']} {float(line.get('confidence') or 0):.2f}"
            except (TypeError, ValueError):
                intent = str(line["intent"])
        rendered.append({
            "time": clock(line.get("timestamp")),
            "who": role.replace("_", " ").capitalize(),
            "text": untrusted(line.get("text")) or "(no text)",
            "intent": intent,
        })  # fmt: skip
    return rendered


def facts(packet: Mapping[str, Any], state: CardState) -> list[dict[str, str]]:
    """The card's facts as label/value pairs: customer, channel, reason, mood, what we know, return, orders.

    The return comes above the orders, as on the Slack card.
    """
    customer = packet.get("customer") or {}
    pairs: list[tuple[str, str]] = []
    if customer:
        who = customer_name(packet) or "Name unknown"
        details = [mask_email(customer.get("email")), untrusted(customer.get("plan"), 60)]
        pairs.append(("Customer", " · ".join([who, *[d for d in details if d]])))
    else:
        pairs.append(("Customer", "New customer — not in our records"))
    pairs.append(("Status", status_line(state)))
    if state.team:
        routed = _short(state.team, NAME_LIMIT)
        pairs.append(("Team", routed + (f" — {_short(state.routing_why, 300)}" if state.routing_why else "")))
    pairs.append(("Channel", channel_label(packet.get("channel"))))
    pairs.append(("Reason", untrusted(packet.get("reason"), 500) or "not given"))
    sentiment = packet.get("sentiment")
    if isinstance(sentiment, Mapping) and sentiment.get("label"):
        try:
            anger = f" (anger {float(sentiment.get('anger')):.2f})"
        except (TypeError, ValueError):
            anger = ""
        pairs.append(("Sentiment", f"{_short(sentiment['label'], 30)}{anger}"))
    language = language_label((packet.get("slots") or {}).get("language"))
    if language:
        pairs.append(("Language", _short(language, 40)))
    known = [
        f"{name.replace('_', ' ')}: {_slot(value)}"
        for name, value in (packet.get("slots") or {}).items()
        if value not in (None, "", [], {})
    ]
    if known:
        pairs.append(("Known", "; ".join(known)))
    unverified = [_short(name, 60).replace("_", " ") for name in packet.get("unverified") or ()]
    if unverified:  # typed by the customer, not verified as theirs: named, never shown
        pairs.append(("Not verified", ", ".join(unverified)))
    ret = _return(packet.get("latest_return"))
    if ret:  # what they send back and why, or the one the return form is still setting up
        pairs.append(ret)
    orders = [_order(order) for order in packet.get("orders") or ()]
    if orders:
        pairs.append(("Orders", "; ".join(orders)))
    earlier = [_earlier(h) for h in list(packet.get("earlier_handoffs") or ())[:5] if isinstance(h, Mapping)]
    if earlier:  # each names its card in this inbox (the page anchors cards as #handoff-<id>)
        pairs.append(("Earlier handoffs", "; ".join(earlier)))
    survey = _survey(packet.get("last_survey"))
    if survey:
        pairs.append(("Last survey", survey))
    return [{"label": label, "value": value} for label, value in pairs if value]


def _slot(value: Any) -> str:
    if isinstance(value, Mapping | list | tuple):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return untrusted(value, 300)


def _order(order: Mapping[str, Any]) -> str:
    parts = [_short(order.get("number") or "?", 40), _short(order.get("status") or "unknown", 40)]
    total = format_money(order.get("total_cents"), order.get("currency"))
    if total:
        parts.append(total)
    if order.get("placed_on"):
        parts.append("placed " + (long_date(order["placed_on"]) or _short(order["placed_on"], 40)))
    return " ".join(parts)


def _items(items: Any) -> str:
    """``Hearthlink Hub, 2 × Hearthlink Smart Plug``: our own product names, with the quantities."""
    parts = []
    for item in items or ():
        if not isinstance(item, Mapping):
            continue
        quantity = item.get("quantity") or 1
        product = _short(item.get("product") or "item", NAME_LIMIT)
        parts.append(f"{quantity} × {product}" if quantity != 1 else product)
    return _short(", ".join(parts), 300) or NO_ITEMS


def _day(value: Any) -> str:
    return long_date(value) or _short(value, 40)


def _return(ret: Any) -> tuple[str, str] | None:
    """The latest return as a fact, in the Slack card's words (bot/handoff/desks/return_fact.py)."""
    fact = return_fact(ret, PLAIN, day=_day, items=_items)
    return None if fact is None else (fact[0], " · ".join(fact[1]))


def _earlier(handoff: Mapping[str, Any]) -> str:
    """``3 Nov 2026 · billing · resolved · Alex — reason (/inbox#handoff-12)``."""
    day = long_date(handoff.get("created_at")) or "date unknown"
    parts = [day, _short(handoff.get("team"), NAME_LIMIT), _short(handoff.get("status") or "unknown", 40)]
    parts.append(_short(handoff.get("agent"), NAME_LIMIT))
    line = " · ".join(part.replace("_", " ") for part in parts if part)
    reason = untrusted(" ".join(str(handoff.get("reason") or "").split()), 150)
    line += f" — {reason}" if reason else ""
    try:
        return line + f" (/inbox#handoff-{int(handoff.get('id'))})"
    except (TypeError, ValueError):
        return line


def _survey(survey: Any) -> str:
    """``CSAT 2/5 on 3 Nov 2026 — “comment”``; "" without a readable answer."""
    if not isinstance(survey, Mapping):
        return ""
    text = score_text(survey.get("kind"), survey.get("score"))
    if text and long_date(survey.get("answered_at")):
        text += f" on {long_date(survey['answered_at'])}"
    comment = untrusted(" ".join(str(survey.get("comment") or "").split()), 300)
    return text + (f" — “{comment}”" if text and comment else "")
