"""Fitting the bot's answers into X: 280-character public replies, DMs, numbered options.

Public replies are where a mistake is most expensive, so besides choosing *which*
questions get a public answer (bot/channels/x.py), every public text is checked once
more for anything personal (order numbers, emails, tracking or card numbers); if it
finds any, the reply moves the conversation to DM instead. What counts as an order number
is the one pattern in nlu_data/entities.yml (bot/order_numbers.py); the texts this module
adds are responses in domain.yml.
"""

from __future__ import annotations

import re
from typing import Any

from bot import order_numbers
from bot.responses import render

TWEET_LIMIT = 280
DM_LIMIT = 10_000
MAX_PUBLIC_TWEETS = 3
OTHER_PERSONAL = re.compile(
    r"[\w.+-]+@[\w-]+\.[\w.]+"  # emails
    r"|\*\*\*@"  # masked emails still say whose account it is
    r"|\b(?=[0-9A-Z]*\d)[0-9A-Z]{10,}\b"  # tracking numbers and similar ids (with digits)
    r"|\b(?:\d[ -]?){13,19}\b",  # card-like digit runs
    re.IGNORECASE,
)


def move_to_dm_text(language: str | None = None) -> str:
    """The public answer when the real one is personal (domain.yml: ``utter_x_moved_to_dm``)."""
    return render("utter_x_moved_to_dm", language=language)


def more_in_dm_text(language: str | None = None) -> str:
    """Marks a public reply cut to three tweets (domain.yml: ``utter_x_more_in_dm``)."""
    return " " + render("utter_x_more_in_dm", language=language)


def is_personal(text: str) -> bool:
    """An order number (the entities.yml pattern), an email, a tracking or card number."""
    return order_numbers.mentions_order_number(text) or bool(OTHER_PERSONAL.search(text))


def split_text(text: str, limit: int) -> list[str]:
    """Split at paragraph, sentence or word boundaries into parts of at most ``limit`` chars."""
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n"), window.rfind(". ") + 1, window.rfind("! ") + 1, window.rfind("? ") + 1)
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 3:
            cut = limit  # one very long word: hard cut
        parts.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        parts.append(text)
    return parts


def public_reply(username: str, texts: list[str], language: str | None = None) -> list[str]:
    """The in-thread reply to a public mention: at most three tweets, each within 280 chars.

    ``language``: the mention's (ISO 639-1), for the texts this module adds.
    """
    body = " ".join(t.strip() for t in texts if t and t.strip())
    if not body or is_personal(body):
        body = move_to_dm_text(language)
    prefix = f"@{username} "
    parts = split_text(body, TWEET_LIMIT - len(prefix))
    if len(parts) > MAX_PUBLIC_TWEETS:
        last = parts[MAX_PUBLIC_TWEETS - 1]
        more = more_in_dm_text(language)
        keep = TWEET_LIMIT - len(prefix) - len(more)
        parts = [*parts[: MAX_PUBLIC_TWEETS - 1], last[:keep].rstrip() + more]
    return [prefix + part for part in parts]


def move_to_dm_reply(username: str, language: str | None = None) -> list[str]:
    return [f"@{username} {move_to_dm_text(language)}"]


def with_numbered_options(text: str, buttons: list[dict[str, Any]]) -> str:
    """X DMs have no buttons: list the options and ask for the number."""
    lines = [text.strip(), ""] if text.strip() else []
    lines += [f"{number}. {button.get('title')}" for number, button in enumerate(buttons, start=1)]
    lines.append("(Reply with a number.)")
    return "\n".join(lines)


def dm_parts(text: str) -> list[str]:
    return split_text(text, DM_LIMIT)
