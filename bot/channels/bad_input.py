"""How every channel answers input that is not a normal text message.

One place, so a customer gets the same clear answer on the web chat, REST and X: an
empty message is answered (never silence), a message that is not text is explained,
and a huge one is cut to ``MAX_MESSAGE_CHARS`` before NLU (nothing useful lies past it).
The answers are responses in domain.yml, like every text a customer reads.
"""

from __future__ import annotations

from bot.responses import render

MAX_MESSAGE_CHARS = 10_000


def empty_reply() -> str:
    """Answer to an empty message (domain.yml: ``utter_empty_message``)."""
    return render("utter_empty_message")


def not_text_reply() -> str:
    """Answer to a message that is not text at all (domain.yml: ``utter_not_text``)."""
    return render("utter_not_text")


def attachment_only_reply() -> str:
    """Answer to a picture or file without words (domain.yml: ``utter_attachment_only``)."""
    return render("utter_attachment_only")


def problem_with(text: object) -> str | None:
    """The answer to give instead of running NLU, or None for a normal text message."""
    if not isinstance(text, str):
        return not_text_reply()
    if not text.strip():
        return empty_reply()
    return None


def clipped(text: str) -> str:
    return text[:MAX_MESSAGE_CHARS]
