"""The Slack handoff card: the agent's whole briefing, as Block Kit.

Who the customer is, why the bot gave up, what was said, what we already know, what they
ordered and what they are sending back and why, so nobody asks the customer to repeat
themselves. It is rebuilt from the context packet (``ContextPacket.to_dict()``) and a
:class:`CardState` every time the handoff changes, so claiming or resolving just re-renders.
Fixed parts are built first and the transcript gets whatever is left of Slack's 50-block budget.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.formatting import format_money, long_date
from bot.handoff.desks.base import CardState
from bot.handoff.desks.return_fact import return_fact
from bot.handoff.desks.slack.history import history_section
from bot.handoff.desks.slack.layout import (
    BUTTON_TEXT_LIMIT,
    CONFIRM_BUTTON_LIMIT,
    CONFIRM_TEXT_LIMIT,
    CONFIRM_TITLE_LIMIT,
    HEADER_TEXT_LIMIT,
    MAX_MESSAGE_BLOCKS,
    SECTION_TEXT_LIMIT,
    clean,
    context,
    cut,
    humanise,
    join_capped,
    own,
    pack_latest,
    plain,
    section,
)
from bot.handoff.desks.slack.people import NAME_LIMIT, channel_label, customer_name, fields_section
from bot.handoff.desks.slack.thread import MRKDWN
from bot.handoff.desks.slack.transcript import intent_tag, transcript_line
from bot.handoff.routing import GROUP_ID
from bot.handoff.states import HandoffStatus

# Action ids the interactivity handler dispatches on; every button's value is the handoff id.
CLAIM = "handoff_claim"
RESOLVE = "handoff_resolve"
TRANSCRIPT = "handoff_transcript"
TRANSFER = "handoff_transfer"  # opens the transfer / assign modal (desks/slack/transfer.py)
HAND_BACK = "handoff_hand_back"
ACTIONS_BLOCK_ID = "handoff_actions"

# How much of each item the card shows; the modal has the full transcript.
CARD_LINE_LIMIT = 500
SLOT_VALUE_LIMIT = 300
SUMMARY_LIMIT = 200
MAX_ORDERS = 5
MAX_RECENT = 3
MAX_SLOTS = 15
MAX_INTENTS = 12

ORDER_STATUS_EMOJI = {
    "processing": ":hourglass_flowing_sand:",
    "shipped": ":truck:",
    "delivered": ":package:",
    "returned": ":leftwards_arrow_with_hook:",
    "cancelled": ":x:",
}

_CLAIMABLE = frozenset({HandoffStatus.WAITING, HandoffStatus.TIMED_OUT, HandoffStatus.AFTER_HOURS})
_RESOLVABLE_HERE = frozenset({HandoffStatus.WAITING, HandoffStatus.CLAIMED})


def _day(value: Any) -> str:
    """``5 Nov 2026``; a value that is not a date is shown escaped as it is."""
    return long_date(value) or (own(value, 40) if value else "")


def _money(cents: Any, currency: Any) -> str:
    return own(format_money(cents, currency), 40)


def _header(packet: Mapping[str, Any]) -> dict[str, Any]:
    who = customer_name(packet) or "New customer"
    return {
        "type": "header",
        "text": plain(f":raising_hand: Customer needs a person — {who}", HEADER_TEXT_LIMIT),
    }


def _status_line(state: CardState) -> str:
    claimed_by = own(state.claimed_by, NAME_LIMIT) or "an agent"
    if state.moved_to:
        return f":arrow_right: *Transferred to {own(state.moved_to, 80)}* — it continues on that team's card"
    if state.status is HandoffStatus.WAITING:
        line = ":hourglass_flowing_sand: *Waiting for an agent* — claim it to take over the chat"
    elif state.status is HandoffStatus.CLAIMED:
        line = f":technologist: *Claimed by {claimed_by}* — they are talking to the customer"
    elif state.status is HandoffStatus.RESOLVED:
        by = own(state.resolved_by or state.claimed_by, NAME_LIMIT)
        line = ":white_check_mark: *Resolved — back with the bot*" + (f" by {by}" if by else "")
    elif state.status is HandoffStatus.TIMED_OUT:
        line = ":alarm_clock: *Timed out* — no one claimed it in time"
    else:
        line = ":crescent_moon: *After hours* — no agents on shift"
    line += f" · handoff #{state.handoff_id}"  # what /saved-reply <number> takes
    if state.note:
        line += "\n_" + clean(state.note, 500) + "_"
    return line


def _routing_block(state: CardState, *, new: bool) -> dict[str, Any] | None:
    """The line "Routed to billing — rule 'billing': intent billing_dispute", with the team's group
    mentioned on the new card only (an edit must not notify anyone again). The mention is built
    from the configured group id alone; everything else here is escaped, so no text can mention."""
    if not state.team:
        return None
    line = f":busts_in_silhouette: Routed to *{own(state.team, 80)}*"
    if state.routing_why:
        line += " — " + own(state.routing_why, 300)
    if new and state.notify_group and GROUP_ID.fullmatch(state.notify_group):
        line = f"<!subteam^{state.notify_group}> " + line
    return context(line)


def _intents_block(packet: Mapping[str, Any]) -> dict[str, Any] | None:
    detected = packet.get("detected_intents")
    if detected is None:  # older packets: derive from the transcript
        detected = [
            {"intent": line.get("intent"), "confidence": line.get("confidence")}
            for line in packet.get("transcript") or ()
            if line.get("role") == "customer" and line.get("intent")
        ]
    tags = [intent_tag(item.get("intent"), item.get("confidence")) for item in detected]
    tags = [tag for tag in tags if tag]
    if not tags:
        return None
    shown = tags[-MAX_INTENTS:]
    prefix = "… → " if len(tags) > len(shown) else ""
    return context(":mag: *Detected intents:* " + prefix + " → ".join(shown))


def _slot_value(value: Any) -> str:
    if isinstance(value, Mapping | list | tuple):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return clean(value, SLOT_VALUE_LIMIT)


def _slots_section(packet: Mapping[str, Any]) -> dict[str, Any] | None:
    """Facts verified as this customer's; typed ones that are not (maybe someone else's) by name only."""
    slots = {k: v for k, v in (packet.get("slots") or {}).items() if v not in (None, "", [], {})}
    unverified = [own(humanise(name), 60) for name in packet.get("unverified") or ()]
    if not slots and not unverified:
        return None
    lines = [f"• {own(humanise(name), 60)}: {_slot_value(value)}" for name, value in slots.items()]
    if unverified:
        lines.append(f"• _Not verified as this customer's (not shown):_ {', '.join(unverified)}")
    return section(join_capped("*What we know*", lines, SECTION_TEXT_LIMIT, "slots", MAX_SLOTS))


def _items_summary(items: Any) -> str:
    parts = []
    for item in items or ():
        product = str(item.get("product") or "item")
        quantity = item.get("quantity") or 1
        parts.append(f"{quantity} × {product}" if quantity != 1 else product)
    if not parts:
        return "no items"
    return own(", ".join(parts), 300)


def _order_line(order: Mapping[str, Any]) -> str:
    status = str(order.get("status") or "unknown")
    emoji = ORDER_STATUS_EMOJI.get(status.lower(), ":package:")
    first = [f"{emoji} *{own(order.get('number') or '?', 40)}*", own(humanise(status), 40)]
    first.append(_items_summary(order.get("items")))
    total = _money(order.get("total_cents"), order.get("currency"))
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
    tracking = " ".join(own(order.get(key), 60) for key in ("carrier", "tracking_number") if order.get(key))
    if tracking:
        second.append(tracking)
    for ret in (order.get("returns") or ())[:3]:
        text = "return " + own(ret.get("status") or "open", 30)
        refund = _money(ret.get("refund_cents"), order.get("currency"))
        if refund and ret.get("refund_cents"):
            text += " " + refund
        if ret.get("refunded_on"):
            text += " on " + _day(ret["refunded_on"])
        second.append(text)
    line = " · ".join(first)
    return line + ("\n      " + " · ".join(second) if second else "")


def _return_section(packet: Mapping[str, Any]) -> dict[str, Any] | None:
    """One line: the latest return's order, items, state and reason (the customer's words escaped)."""
    fact = return_fact(packet.get("latest_return"), MRKDWN, day=_day, items=_items_summary)
    if fact is None:
        return None
    title, parts = fact
    return section(f":leftwards_arrow_with_hook: *{title}:* " + " · ".join(parts))


def _orders_section(packet: Mapping[str, Any]) -> dict[str, Any] | None:
    orders = list(packet.get("orders") or ())
    if not orders:
        return section("*Orders*\n_No orders on record_") if packet.get("customer") else None
    lines = [_order_line(order) for order in orders]
    return section(join_capped("*Orders*", lines, SECTION_TEXT_LIMIT, "orders", MAX_ORDERS))


def _recent_section(packet: Mapping[str, Any]) -> dict[str, Any] | None:
    recent = list(packet.get("recent_conversations") or ())[:MAX_RECENT]
    if not recent:
        return None
    lines = []
    for conversation in recent:
        parts = [_day(conversation.get("started_at")), channel_label(conversation.get("channel"))]
        parts.append(own(humanise(conversation.get("outcome") or "unknown"), 60))
        line = "• " + " · ".join(part for part in parts if part)
        if conversation.get("handoff_reason"):
            line += f" (handoff: {clean(conversation['handoff_reason'], 120)})"
        summary = clean(" ".join(str(conversation.get("summary") or "").split()), SUMMARY_LIMIT)
        if summary:
            line += f" — {summary}"
        lines.append(line)
    return section(join_capped("*Recent conversations*", lines, SECTION_TEXT_LIMIT, "conversations"))


def _button(text: str, action_id: str, handoff_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "text": plain(text, BUTTON_TEXT_LIMIT),
        "action_id": action_id,
        "value": str(handoff_id),
        **extra,
    }


def _actions_block(state: CardState) -> dict[str, Any]:
    elements: list[dict[str, Any]] = []
    if state.moved_to:  # an old card after a transfer: read-only
        elements.append(_button("Full transcript", TRANSCRIPT, state.handoff_id))
        return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": elements}
    if state.status in _CLAIMABLE:
        elements.append(_button("Claim", CLAIM, state.handoff_id, style="primary"))
    if state.status is HandoffStatus.CLAIMED:  # only a lead may (access.py check_owner says so)
        elements.append(_button("Take over", CLAIM, state.handoff_id))
        elements.append(_button("Hand back to queue", HAND_BACK, state.handoff_id))
    if state.status in _RESOLVABLE_HERE:
        elements.append(_button("Transfer / assign…", TRANSFER, state.handoff_id))
    if state.status in _RESOLVABLE_HERE:
        confirm = {
            "title": plain("Hand back to the bot?", CONFIRM_TITLE_LIMIT),
            "text": plain(
                "The bot will answer this customer again. Make sure you have finished helping them.",
                CONFIRM_TEXT_LIMIT,
            ),
            "confirm": plain("Resolve", CONFIRM_BUTTON_LIMIT),
            "deny": plain("Keep the chat", CONFIRM_BUTTON_LIMIT),
        }
        elements.append(_button("Resolve — hand back to bot", RESOLVE, state.handoff_id, confirm=confirm))
    elements.append(_button("Full transcript", TRANSCRIPT, state.handoff_id))
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": elements}


def _message_sections(packet: Mapping[str, Any], transcript_lines: int, budget: int) -> list[dict[str, Any]]:
    """The "Last messages" sections: the latest lines that fit both the line count and block budget."""
    transcript = list(packet.get("transcript") or ())
    wanted = transcript[-transcript_lines:] if transcript_lines > 0 else []
    if not wanted:
        return [section("*Last messages*\n_No messages yet._")] if budget > 0 else []
    rendered = [[transcript_line(line, limit=CARD_LINE_LIMIT, compact=True)] for line in wanted]
    # Leave room in the first section for the heading, whose counts are known only after packing.
    room = SECTION_TEXT_LIMIT - 120
    texts, dropped = pack_latest(rendered, room, budget)
    if not texts:
        return []
    kept = len(wanted) - dropped
    heading = f"*Last messages* ({kept} of {len(transcript)}, times UTC)"
    if kept < len(transcript):
        heading += " — _Full transcript_ has the rest"
    blocks = [section(heading + "\n" + texts[0])]
    blocks.extend(section(text) for text in texts[1:])
    return blocks


def card_blocks(
    packet: Mapping[str, Any], state: CardState, *, transcript_lines: int = 8, new: bool = False
) -> list[dict[str, Any]]:
    """The handoff card posted to (and updated in) the agents' channel.

    Fixed parts are built first so the transcript gets whatever is left of the 50-block
    budget; a long ``transcript_lines`` therefore shrinks to the latest messages instead of
    making Slack reject the card. ``new``: the first post (the routed team's group is mentioned).
    """
    routed = _routing_block(state, new=new)
    head = [_header(packet), section(_status_line(state)), *([routed] if routed else [])]
    head += [fields_section(packet), {"type": "divider"}]
    tail = [
        block
        for block in (
            _intents_block(packet),
            _slots_section(packet),
            _return_section(packet),
            _orders_section(packet),
            _recent_section(packet),
            history_section(packet),
        )
        if block is not None
    ]
    tail.append(_actions_block(state))
    budget = MAX_MESSAGE_BLOCKS - len(head) - len(tail)
    return head + _message_sections(packet, transcript_lines, budget) + tail


def card_text(packet: Mapping[str, Any], state: CardState) -> str:
    """Notification / fallback text for the card (what push notifications and screen readers get)."""
    who = customer_name(packet) or "a new customer"
    reason = clean(packet.get("reason"), 200) or "no reason given"
    prefix = {
        HandoffStatus.WAITING: "Handoff",
        HandoffStatus.CLAIMED: f"Handoff claimed by {own(state.claimed_by, NAME_LIMIT) or 'an agent'}",
        HandoffStatus.RESOLVED: "Handoff resolved",
        HandoffStatus.TIMED_OUT: "Handoff timed out",
        HandoffStatus.AFTER_HOURS: "After-hours handoff",
    }[state.status]
    if state.team:
        prefix += f" for {own(state.team, 80)}"
    return cut(f"{prefix}: {who} on {channel_label(packet.get('channel'))} — {reason}", 400)
