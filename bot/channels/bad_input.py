"""How every channel answers input that is not a normal text message.

One place, so a customer gets the same clear answer on the web chat, REST and X: an
empty message is answered (never silence), a message that is not text is explained,
and a huge one is cut to ``MAX_MESSAGE_CHARS`` before NLU (nothing useful lies past it).
"""

from __future__ import annotations

MAX_MESSAGE_CHARS = 10_000
EMPTY_REPLY = 'Your message arrived empty. What can I help you with? For example: "where is my order".'
NOT_TEXT_REPLY = "I can only read text here. Could you type your question?"
ATTACHMENT_ONLY_REPLY = (
    "Thanks! I can't open pictures or files here. Could you tell me in words what you need? "
    "(If it's for a person from our team, say \"agent\" and they'll take a look.)"
)


def problem_with(text: object) -> str | None:
    """The answer to give instead of running NLU, or None for a normal text message."""
    if not isinstance(text, str):
        return NOT_TEXT_REPLY
    if not text.strip():
        return EMPTY_REPLY
    return None


def clipped(text: str) -> str:
    return text[:MAX_MESSAGE_CHARS]
