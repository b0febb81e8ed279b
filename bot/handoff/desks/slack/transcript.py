"""Conversation lines in Slack mrkdwn, and the "Full transcript" modal built from them.

The card shows the last few lines; the modal shows every line, long ones split across
sections. Both render a line the same way: `HH:MM` *Customer:* text `intent 0.93`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.formatting import clock
from bot.handoff.desks.slack.layout import (
    MAX_MODAL_BLOCKS,
    MODAL_BLOCK_BUDGET,
    MODAL_TITLE_LIMIT,
    SECTION_TEXT_LIMIT,
    clean,
    context,
    humanise,
    own,
    pack_latest,
    plain,
    section,
    split,
)
from bot.handoff.desks.slack.people import channel_label, conversation_text, customer_name

TRANSCRIPT_MODAL_CALLBACK = "handoff_transcript_modal"
MODAL_LINE_LIMIT = 12_000


def intent_tag(intent: Any, confidence: Any) -> str:
    """``order_status 0.93`` (escaped), or "" without an intent."""
    if not intent:
        return ""
    try:
        score = f"{float(confidence):.2f}"
    except (TypeError, ValueError):
        score = ""
    return own(f"{intent} {score}".strip(), 80)


def _role_label(role: Any) -> str:
    if role == "customer":
        return "*Customer:*"
    if role == "bot":
        return "_Bot:_"
    return "*" + (own(humanise(role), 30) or "Unknown") + ":*"


def transcript_line(line: Mapping[str, Any], *, limit: int, compact: bool) -> str:
    """One message as mrkdwn: `HH:MM` *Customer:* text `intent 0.93`."""
    raw = str(line.get("text") or "")
    if compact:  # the card shows each message on one line; the modal keeps line breaks
        raw = " ".join(raw.split())
    body = clean(raw, limit) or "_(no text)_"
    when = clock(line.get("timestamp"))
    rendered = (f"`{when}` " if when else "") + f"{_role_label(line.get('role'))} {body}"
    if line.get("role") == "customer":
        tag = intent_tag(line.get("intent"), line.get("confidence"))
        if tag:
            rendered += f"  `{tag}`"
    return rendered


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
        split(transcript_line(line, limit=MODAL_LINE_LIMIT, compact=False), SECTION_TEXT_LIMIT)
        for line in lines
    ]
    who = customer_name(packet) or "New customer"
    summary = (
        f"{who} · {channel_label(packet.get('channel'))} · "
        f"conversation {conversation_text(packet) or 'unknown'} · "
        f"{len(lines)} messages · times UTC"
    )
    blocks: list[dict[str, Any]] = [context(summary)]
    texts, dropped = pack_latest(rendered, SECTION_TEXT_LIMIT, MODAL_BLOCK_BUDGET - 2)
    if dropped:
        blocks.append(context(f":scissors: {dropped} earlier lines omitted — only the latest fit in Slack"))
    blocks.extend(section(text) for text in texts)
    if not lines:
        blocks.append(section("_No messages yet._"))
    return {
        "type": "modal",
        "callback_id": TRANSCRIPT_MODAL_CALLBACK,
        "title": plain("Full transcript", MODAL_TITLE_LIMIT),
        "close": plain("Close", MODAL_TITLE_LIMIT),
        "blocks": blocks[:MAX_MODAL_BLOCKS],
    }
