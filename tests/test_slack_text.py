"""Customer text shown in Slack (bot.handoff.desks.slack.mrkdwn): nothing pings, links or breaks."""

from __future__ import annotations

import re

import pytest

from bot.handoff.desks.slack.mrkdwn import (
    ELLIPSIS,
    SECTION_TEXT_LIMIT,
    WORD_JOINER,
    escape_mrkdwn,
    quote,
    safe_text,
)

INJECTIONS = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!here|here>",
    "<@U123>",
    "<@U024BE7LH|bob>",
    "<#C123>",
    "<#C024BE7LR|general>",
    "<!subteam^S1>",
    "<!subteam^SAZ94GDB8|@oncall>",
    "<!date^1392734382^{date_pretty}|Feb 18, 2014>",
    "<http://evil|click>",
    "<https://evil.example/login|https://hearthlink.com/account>",
    "<mailto:x@evil.example|support@hearthlink.com>",
]


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _no_live_markup(text: str) -> None:
    """Slack control sequences need a raw "<" or ">"; broadcasts need "@" right before the word."""
    assert "<" not in text
    assert ">" not in text
    assert not re.search(r"(?<![\w.+\-])@(channel|here|everyone)", text, re.IGNORECASE)


@pytest.mark.parametrize("injection", INJECTIONS)
def test_control_sequences_are_escaped(injection: str) -> None:
    escaped = escape_mrkdwn(f"hi {injection} there")
    _no_live_markup(escaped)
    assert escaped == "hi " + injection.replace("<", "&lt;").replace(">", "&gt;") + " there"


def test_exact_escapes() -> None:
    assert escape_mrkdwn("<!channel>") == "&lt;!channel&gt;"
    assert escape_mrkdwn("<@U123>") == "&lt;@U123&gt;"
    assert escape_mrkdwn("<http://evil|click>") == "&lt;http://evil|click&gt;"
    assert escape_mrkdwn("Tom & Jerry") == "Tom &amp; Jerry"
    # "&" first, so an entity typed by the customer is shown literally, not interpreted
    assert escape_mrkdwn("&lt;!channel&gt;") == "&amp;lt;!channel&amp;gt;"
    assert escape_mrkdwn("a < b > c && d") == "a &lt; b &gt; c &amp;&amp; d"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@channel", f"@{WORD_JOINER}channel"),
        ("@here help!", f"@{WORD_JOINER}here help!"),
        ("hey @everyone", f"hey @{WORD_JOINER}everyone"),
        ("@HERE @Channel @EveryOne", f"@{WORD_JOINER}HERE @{WORD_JOINER}Channel @{WORD_JOINER}EveryOne"),
        ("(@here)", f"(@{WORD_JOINER}here)"),
        ("ping\n@channel", f"ping\n@{WORD_JOINER}channel"),
    ],
)
def test_plain_broadcasts_get_a_word_joiner(text: str, expected: str) -> None:
    escaped = escape_mrkdwn(text)
    assert escaped == expected
    _no_live_markup(escaped)
    # invisible: the text reads the same without the joiner
    assert escaped.replace(WORD_JOINER, "") == text


@pytest.mark.parametrize(
    "text",
    ["anna@here.com", "support@everyone.org", "me+x@channel.io", "first.last@here.io", "@ here", "@heather"],
)
def test_email_addresses_and_other_words_are_untouched(text: str) -> None:
    assert escape_mrkdwn(text) == text


def test_words_starting_with_a_broadcast_are_neutralised_too() -> None:
    # Erring on the safe side costs one invisible character.
    assert escape_mrkdwn("@hereford") == f"@{WORD_JOINER}hereford"


def test_escaping_neutralises_broadcasts_inside_markup_too() -> None:
    escaped = escape_mrkdwn("<!here> and <@U123|@channel>")
    _no_live_markup(escaped)
    assert escaped == f"&lt;!here&gt; and &lt;@U123|@{WORD_JOINER}channel&gt;"


@pytest.mark.parametrize(
    "text",
    [
        "Thanks 👍🏽 the hub works 🎉",
        "Grüße aus München — ça marche, ¿verdad?",
        "Здравствуйте, заказ HL-104233 не пришёл",
        "注文はまだ届いていません 😢",
        "مرحبا، طلبي لم يصل",
        "family 👨‍👩‍👧 and flag 🇩🇪",
        "*bold* _italic_ ~strike~ `code` ```block```",
        "",
    ],
)
def test_unicode_and_formatting_pass_through(text: str) -> None:
    assert escape_mrkdwn(text) == text
    assert safe_text(text) == text


def test_safe_text_keeps_short_text_whole() -> None:
    text = "x" * SECTION_TEXT_LIMIT
    assert safe_text(text) == text
    assert safe_text("<!here> & more") == "&lt;!here&gt; &amp; more"


def test_safe_text_truncates_10000_chars() -> None:
    text = ("Where is my order <!channel> & why? " * 300)[:10_000]
    assert len(text) == 10_000
    result = safe_text(text)
    assert _utf16_len(result) <= SECTION_TEXT_LIMIT
    assert result.endswith(ELLIPSIS)
    assert result.startswith("Where is my order &lt;!channel&gt; &amp; why?")
    _no_live_markup(result)
    _assert_entities_whole(result)


def test_safe_text_counts_escaped_length() -> None:
    # 1,000 "<" become 4,000 characters of "&lt;"
    result = safe_text("<" * 1000)
    assert _utf16_len(result) <= SECTION_TEXT_LIMIT
    assert result == "&lt;" * 749 + ELLIPSIS


@pytest.mark.parametrize("limit", range(1, 40))
def test_safe_text_never_cuts_an_entity(limit: int) -> None:
    text = "a&b<c>d" * 10
    result = safe_text(text, limit)
    assert _utf16_len(result) <= limit
    assert result.endswith(ELLIPSIS)
    _assert_entities_whole(result)
    assert escape_mrkdwn(text).startswith(result[:-1].rstrip())


def test_safe_text_limits_in_utf16_units() -> None:
    text = "😀" * 5000  # 5,000 characters, 10,000 UTF-16 units
    result = safe_text(text)
    assert _utf16_len(result) <= SECTION_TEXT_LIMIT
    assert result == "😀" * 1499 + ELLIPSIS


@pytest.mark.parametrize(
    "text",
    [
        "ab👍🏽" * 10,  # skin tone modifier
        "a👨‍👩‍👧" * 10,  # zero-width-joiner sequence
        "🇩🇪🇫🇷" * 10,  # flags: regional indicator pairs
        "é" * 40,  # e + combining acute
        "❤️" * 30,  # heart + variation selector
    ],
)
@pytest.mark.parametrize("limit", [5, 6, 7, 8, 9, 10, 11])
def test_safe_text_never_splits_a_grapheme(text: str, limit: int) -> None:
    result = safe_text(text, limit)
    assert _utf16_len(result) <= limit
    head = result.removesuffix(ELLIPSIS)
    assert text.startswith(head)
    rest = text[len(head) :]
    if rest:  # what was cut off does not start with a piece of the previous character
        assert rest[0] not in "\u200d\ufe0f\u0301"
        assert not "\U0001f3fb" <= rest[0] <= "\U0001f3ff"
    assert not head.endswith("\u200d")
    flags = len(head) - len(head.rstrip("".join(chr(c) for c in range(0x1F1E6, 0x1F200))))
    assert flags % 2 == 0


def test_safe_text_limit_edge_cases() -> None:
    assert safe_text("hello", 1) == ELLIPSIS
    assert safe_text("hello", 5) == "hello"
    assert safe_text("hello world", 7) == "hello…"  # no dangling space before the ellipsis
    with pytest.raises(ValueError):
        safe_text("hello", 0)


def test_quote_prefixes_every_line() -> None:
    assert quote("hello") == "> hello"
    assert quote("line one\nline two\r\nline three") == "> line one\n> line two\n> line three"
    assert quote("para one\n\npara two") == "> para one\n>\n> para two"
    assert quote("") == ">"


def test_quote_escapes_before_quoting() -> None:
    quoted = quote("> not a quote\n<!channel> @here\n& <http://evil|click>")
    assert quoted == (
        f"> &gt; not a quote\n> &lt;!channel&gt; @{WORD_JOINER}here\n> &amp; &lt;http://evil|click&gt;"
    )
    # the only raw ">" are our line prefixes
    assert all(line.startswith(">") and ">" not in line[1:] for line in quoted.splitlines())
    assert "<" not in quoted


def test_quote_with_limit() -> None:
    quoted = quote("a & b\n" * 2000, limit=SECTION_TEXT_LIMIT)
    assert _utf16_len(quoted) <= SECTION_TEXT_LIMIT
    assert quoted.endswith(ELLIPSIS)
    assert quoted.startswith("> a &amp; b\n> a &amp; b\n")
    _assert_entities_whole(quoted)


def _assert_entities_whole(escaped: str) -> None:
    """Every "&" starts a complete &amp; / &lt; / &gt;."""
    for match in re.finditer("&", escaped):
        tail = escaped[match.start() :]
        assert re.match(r"&(amp|lt|gt);", tail), tail[:6]
