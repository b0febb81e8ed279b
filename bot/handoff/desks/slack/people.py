"""Who the customer is, in Slack mrkdwn: the card's field grid (and the name the modal shows).

Name, masked e-mail, plan, devices, the customer's identities on other channels, the mood
of their last messages, why they were handed over and which conversation it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot import formatting
from bot.handoff.desks import labels
from bot.handoff.desks.slack.layout import (
    FIELD_TEXT_LIMIT,
    MAX_SECTION_FIELDS,
    clean,
    cut,
    humanise,
    mrkdwn,
    own,
)

NAME_LIMIT = 80

SENTIMENT_EMOJI = {
    "angry": ":rage:",
    "negative": ":slightly_frowning_face:",
    "neutral": ":neutral_face:",
    "positive": ":slightly_smiling_face:",
}

# Only real X handles become profile URLs; anything else is shown as escaped text.
X_HANDLE = re.compile(r"@?([A-Za-z0-9_]{1,15})")
# "*" is bold in mrkdwn, so the mask is bullets here ("m•••@example.com").
EMAIL_MASK = "•••"


def channel_label(channel: Any) -> str:
    """Agent-facing name of a Rasa input channel (escaped)."""
    return own(labels.channel_label(channel), 60)


def mask_email(email: Any) -> str:
    """``m•••@example.com``: enough for an agent to confirm, not enough to leak in a screenshot."""
    return clean(formatting.mask_email(email, mask=EMAIL_MASK, missing=EMAIL_MASK), 120)


def _score(value: Any) -> str:
    try:
        return f"{float(value):.2f}"
    except (TypeError, ValueError):
        return ""


def conversation_text(packet: Mapping[str, Any]) -> str:
    """The conversation id, escaped: an X account id as it is (it is no card number), others redacted."""
    return own(labels.conversation_id_text(packet.get("channel"), packet.get("conversation_id")), 200)


def customer_name(packet: Mapping[str, Any]) -> str:
    customer = packet.get("customer") or {}
    return clean(customer.get("name"), NAME_LIMIT) if customer.get("name") else ""


def _customer_field(packet: Mapping[str, Any]) -> str:
    customer = packet.get("customer")
    if not customer:
        return "*Customer*\nNew customer — not in our records"
    lines = [customer_name(packet) or "_Name unknown_"]
    if customer.get("id") is not None:
        lines[0] += f" (#{own(customer.get('id'), 20)})"
    details = [
        mask_email(customer["email"]) if customer.get("email") else "",
        clean(customer.get("plan"), 60),
    ]
    details = [d for d in details if d]
    if details:
        lines.append(" · ".join(details))
    devices = [clean(device, 60) for device in customer.get("devices") or ()]
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
        label = own(labels.identity_label(channel), 40)
        shown = clean(handle, 60)
        match = X_HANDLE.fullmatch(str(handle).strip())
        if channel.lower() == "twitter" and match:
            shown += " · " + own(f"https://x.com/{match.group(1)}", 60)
        lines.append(f"{label}: {shown}")
    return "*Identities*\n" + "\n".join(lines[:8]) if lines else ""


def _sentiment_field(packet: Mapping[str, Any]) -> str:
    sentiment = packet.get("sentiment")
    if not isinstance(sentiment, Mapping) or not sentiment.get("label"):
        return ""
    label = str(sentiment.get("label")).lower()
    emoji = SENTIMENT_EMOJI.get(label, ":grey_question:")
    text = f"{emoji} {own(humanise(label), 30)}"
    anger = _score(sentiment.get("anger"))
    if anger:
        text += f" · anger {anger}"
    return "*Sentiment*\n" + text


def _language_field(packet: Mapping[str, Any]) -> str:
    label = labels.language_label((packet.get("slots") or {}).get("language"))
    return "*Language*\n" + own(label, 40) if label else ""


def fields_section(packet: Mapping[str, Any]) -> dict[str, Any]:
    fields = [
        _customer_field(packet),
        "*Channel*\n" + channel_label(packet.get("channel")),
        _identities_field(packet),
        "*Reason*\n" + (clean(packet.get("reason"), 500) or "_not given_"),
        _sentiment_field(packet),
        _language_field(packet),
        "*Conversation*\n" + (conversation_text(packet) or "_unknown_"),
    ]
    return {
        "type": "section",
        "fields": [mrkdwn(cut(field, FIELD_TEXT_LIMIT)) for field in fields if field][:MAX_SECTION_FIELDS],
    }
