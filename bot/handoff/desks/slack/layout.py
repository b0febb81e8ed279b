"""Block Kit building blocks and text fitting: every Slack payload stays inside Slack's limits.

Why here and not left to Slack: Slack rejects the whole message (and with it the handoff
notification) when one limit is exceeded, so every text is measured and cut before it is
sent. Two gates for text, used by the card, the thread notices and the modal alike:

* :func:`clean` — customer-written text: redacted (card numbers, passwords, tokens), then
  escaped and cut (:mod:`.mrkdwn`).
* :func:`own` — our own data (order numbers, agent names): escaped and cut, not redacted,
  because redaction would eat tracking numbers that look like card numbers.

Text that has already been escaped is only ever cut with ``truncate_escaped`` (entity-aware),
never escaped again; every ``mrkdwn`` object carries ``verbatim: true`` so Slack does not
auto-link bare URLs, channel names or user names in it either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.handoff.desks.slack.mrkdwn import (
    SECTION_TEXT_LIMIT,
    escape_mrkdwn,
    safe_text,
    truncate_escaped,
    units,
)
from bot.redact import redact

# Block Kit limits (https://docs.slack.dev/reference/block-kit).
MAX_MESSAGE_BLOCKS = 50
MAX_MODAL_BLOCKS = 100
MODAL_BLOCK_BUDGET = 95  # keep headroom under the hard limit for notices
MAX_SECTION_FIELDS = 10
FIELD_TEXT_LIMIT = 2000
HEADER_TEXT_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
MODAL_TITLE_LIMIT = 24
CONFIRM_TITLE_LIMIT = 100
CONFIRM_TEXT_LIMIT = 300
CONFIRM_BUTTON_LIMIT = 30

__all__ = [
    "SECTION_TEXT_LIMIT",
    "clean",
    "context",
    "cut",
    "humanise",
    "join_capped",
    "mrkdwn",
    "own",
    "pack_latest",
    "plain",
    "section",
    "split",
    "units",
]


def cut(escaped: str, limit: int) -> str:
    """Shorten already-escaped text to ``limit`` UTF-16 units (with …) without splitting an entity."""
    return truncate_escaped(escaped, max(limit, 1))


def clean(text: Any, limit: int) -> str:
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
    return safe_text(redacted, max(limit, 1))


def own(text: Any, limit: int = 300) -> str:
    """Our own data (order numbers, products, agent names): escaped and truncated, not redacted."""
    if text is None:
        return ""
    return cut(escape_mrkdwn(str(text)), limit)


def humanise(word: Any) -> str:
    """``resolved_by_agent`` -> ``Resolved by agent``."""
    text = str(word or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------- block objects


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text or " ", "verbatim": True}


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": cut(text, limit) or " ", "emoji": True}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(cut(text, SECTION_TEXT_LIMIT))}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(cut(text, SECTION_TEXT_LIMIT))]}


# --------------------------------------------------------------------------- fitting


def _fit(text: str, limit: int) -> int:
    """How many leading characters of ``text`` fit in ``limit`` UTF-16 units."""
    if units(text) <= limit:
        return len(text)
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def split(escaped: str, limit: int) -> list[str]:
    """Split escaped text into pieces of ≤ ``limit`` units, at whitespace if possible, never in an entity."""
    pieces: list[str] = []
    rest = escaped
    while units(rest) > limit:
        size = _fit(rest, limit)
        window = rest[:size]
        at = max(window.rfind("\n", size // 2), window.rfind(" ", size // 2))
        if at <= 0:
            at = size
            ampersand = window.rfind("&")
            if ampersand > 0 and ";" not in window[ampersand:]:  # "&amp;" would be split
                at = ampersand
        piece = rest[:at].rstrip()
        if piece:
            pieces.append(piece)
        rest = rest[at:].lstrip()
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
            elif units(current) + 1 + units(piece) <= limit:
                current += "\n" + piece
            else:
                sections.append(current)
                current = piece
    if current:
        sections.append(current)
    return sections


def pack_latest(lines: Sequence[Sequence[str]], limit: int, max_sections: int) -> tuple[list[str], int]:
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


def join_capped(
    heading: str, lines: Sequence[str], limit: int, noun: str, max_lines: int | None = None
) -> str:
    """Heading plus as many whole lines as fit (and ``max_lines``), then "…and N more <noun>".

    Room for the "more" note is reserved while adding lines, so cutting short always fits.
    """
    cap = len(lines) if max_lines is None else max_lines
    reserve = units(f"\n_…and {len(lines)} more {noun}_")
    text = heading
    for index, line in enumerate(lines):
        last = index == len(lines) - 1
        if index >= cap or units(text) + 1 + units(line) + (0 if last else reserve) > limit:
            return text + f"\n_…and {len(lines) - index} more {noun}_"
        text += "\n" + line
    return text
