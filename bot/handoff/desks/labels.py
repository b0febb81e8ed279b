"""Agent-facing names of Rasa input channels, shared by every desk.

Agents think "Website chat", not ``socketio``; the card, the modal and the inbox page all
say the same thing.
"""

from __future__ import annotations

import re
from typing import Any

from bot.redact import redact

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
# In a list of the customer's identities the channel is implied: "X: @maria", not "X (Twitter) DM".
IDENTITY_LABELS = {**CHANNEL_LABELS, "twitter": "X"}


# Conversation ids a platform assigns, in the shape it assigns them. An X account id is a
# snowflake of up to 20 digits, and about 15 % of random 19-digit ids pass the card-number
# check (Luhn), so redaction turned one X customer in seven into "[card •••• 3154]" on the
# card and in the transcript (measured on 5,000 random ids: tests/test_conversation_ids.py).
# Ids of any other shape, and every other channel's, go through redaction as before.
_PLATFORM_IDS = {"twitter": re.compile(r"[0-9]{1,20}")}


def conversation_id_text(channel: Any, conversation_id: Any) -> str:
    """The conversation id as agents see it, plain text: a platform's own id as it is, else redacted."""
    text = str(conversation_id or "").strip()
    shape = _PLATFORM_IDS.get(str(channel or "").strip().lower())
    return text if shape is not None and shape.fullmatch(text) else redact(text)


def channel_label(channel: Any) -> str:
    """What agents call this input channel (plain text; unknown names are shown as they are)."""
    name = str(channel or "").strip()
    return CHANNEL_LABELS.get(name.lower(), name or "unknown channel")


def identity_label(channel: Any) -> str:
    name = str(channel or "").strip()
    return IDENTITY_LABELS.get(name.lower(), name or "other")


# ISO 639-1 code (the ``language`` slot, bot/nlu/language_detection.py) -> its English name.
LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "de": "German", "fr": "French", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "da": "Danish",
    "tr": "Turkish", "ru": "Russian", "ja": "Japanese", "zh": "Chinese", "ar": "Arabic",
}  # fmt: skip


def language_label(code: Any) -> str:
    """'Spanish (es)' for the code the detector gave; '' when no language is known."""
    code = str(code or "").strip().lower()
    return f"{LANGUAGE_NAMES.get(code, code)} ({code})" if code else ""
