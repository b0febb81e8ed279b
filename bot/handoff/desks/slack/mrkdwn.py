"""Make customer-written text safe to show in Slack ``mrkdwn``.

Why: the handoff card quotes what strangers typed into a public chat box. Slack parses
control sequences in message text: ``<!channel>``, ``<!here>`` and ``<!everyone>`` notify the
whole channel or workspace, ``<@U123>`` pings a person, ``<!subteam^S1>`` a user group,
``<#C123>`` links a channel and ``<http://evil|click here>`` disguises a link. A customer
must never be able to page every agent at 3 a.m. or plant a phishing link in our own UI.

Slack's rule is to escape exactly three characters — ``&``, ``<`` and ``>`` — as ``&amp;``,
``&lt;`` and ``&gt;`` (no other HTML entities); then none of the sequences above can form.
Plain ``@channel``, ``@here`` and ``@everyone`` only notify when ``link_names`` is on, but a
word joiner (U+2060, invisible) after the ``@`` keeps them inert even then; it is not put
into e-mail addresses (``anna@here.com``), which agents copy.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "ELLIPSIS",
    "SECTION_TEXT_LIMIT",
    "WORD_JOINER",
    "escape_mrkdwn",
    "quote",
    "safe_text",
    "truncate_escaped",
    "units",
]

SECTION_TEXT_LIMIT = 3000  # Block Kit: a section's text; Slack rejects the whole message above it
ELLIPSIS = "…"
WORD_JOINER = "\u2060"
ZERO_WIDTH_JOINER = "\u200d"

# "@here" at the start of a word; not the "@" of an e-mail address ("anna@here.com").
_BROADCAST = re.compile(r"(?<![\w.+\-])@(?=(?:channel|here|everyone))", re.IGNORECASE)


def escape_mrkdwn(text: str) -> str:
    """Escape ``&``, ``<``, ``>`` as Slack requires and neutralise ``@channel``/``@here``/``@everyone``.

    Not idempotent by design: escaping is applied once, to raw text (``&amp;`` typed by a
    customer is shown as ``&amp;``).
    """
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@" + WORD_JOINER, escaped)


def safe_text(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    """Escaped text that fits in ``limit``, ending in ``…`` when it had to be shortened.

    The length is measured in UTF-16 code units, never fewer than characters, so the result
    fits whether Slack counts characters or (like JavaScript) UTF-16 units, where an emoji
    is two. The cut never splits an ``&amp;``-style entity or a combined emoji.
    """
    return truncate_escaped(escape_mrkdwn(text), limit)


def quote(text: str, limit: int | None = None) -> str:
    """A mrkdwn block quote of escaped ``text``: every line prefixed with ``>``.

    The ``>`` is added after escaping, so it is the only one Slack sees as markup; a ``>``
    typed by the customer stays a literal ``&gt;``. With ``limit``, the quote (prefixes
    included) is shortened like :func:`safe_text`.
    """
    lines = escape_mrkdwn(text).splitlines() or [""]
    quoted = "\n".join(f"> {line}" if line else ">" for line in lines)
    return quoted if limit is None else truncate_escaped(quoted, limit)


def _utf16_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def units(text: str) -> int:
    """Length as Slack may count it: UTF-16 code units (an emoji is two), never fewer than chars."""
    return len(text.encode("utf-16-le")) // 2


def _extends_previous(char: str) -> bool:
    """Characters that belong to the character before them (accents, emoji modifiers, joiners)."""
    code = ord(char)
    return (
        unicodedata.combining(char) != 0
        or char in (ZERO_WIDTH_JOINER, WORD_JOINER)
        or 0xFE00 <= code <= 0xFE0F  # variation selectors (text/emoji presentation)
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
    )


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF  # a flag is a pair of these


def truncate_escaped(escaped: str, limit: int) -> str:
    """Shorten already-escaped text to ``limit`` UTF-16 units, ``…`` included.

    The only cut for text that is already escaped (assembled card lines, say): escaping it
    again with :func:`safe_text` would show agents ``&amp;amp;``.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if units(escaped) <= limit:
        return escaped

    budget = limit - 1  # "…" is one unit
    cut = 0
    for char in escaped:
        budget -= _utf16_units(char)
        if budget < 0:
            break
        cut += 1

    # Do not split a grapheme: back off while the next character attaches to the previous one
    # or the kept text ends in a joiner; keep regional indicators (flags) in pairs.
    while cut > 0 and (_extends_previous(escaped[cut]) or escaped[cut - 1] == ZERO_WIDTH_JOINER):
        cut -= 1
    indicators = 0
    while indicators < cut and _is_regional_indicator(escaped[cut - 1 - indicators]):
        indicators += 1
    cut -= indicators % 2

    head = escaped[:cut]
    # Every "&" in escaped text starts an entity; one without its ";" was cut in half.
    ampersand = head.rfind("&")
    if ampersand != -1 and ";" not in head[ampersand:]:
        head = head[:ampersand]
    return head.rstrip() + ELLIPSIS
