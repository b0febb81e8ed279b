"""Redaction of secrets in customer-written text before it reaches a desk or a log file.

It lives at the top of ``bot`` because every process that sees customer text needs it: the
worker (desk cards, the inbox, its logs) and the action server (its logs).

Why: customers paste card numbers, CVVs, passwords and API keys into support chats. A human
agent never needs the secret itself (PCI DSS forbids storing a CVV at all and wants card
numbers masked to the last four digits), and Slack keeps every message for the workspace's
retention period, searchable by everyone in the channel; log files are copied around even
more freely. So secrets are replaced *before* the text leaves the bot, with a placeholder
that still tells the agent what was there (``[card •••• 1234]``, ``password [redacted]``).

The rules err towards precision on everyday support text: order numbers (``HL-104233``),
phone numbers, dates, prices, emails and tracking numbers stay readable, because an agent
who cannot read the order number cannot help. Card numbers must pass the Luhn check;
passwords are only taken after a keyword (and, without a ``:``/``=``/``is``, only when the
word looks like a secret), so "I forgot my password" is left alone.

:func:`redact` is idempotent: its placeholders never match a rule again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

__all__ = ["RedactingFilter", "install_log_redaction", "redact"]

SECRET = "[secret redacted]"
REDACTED = "[redacted]"
IBAN_REDACTED = "[iban redacted]"
SSN_REDACTED = "[ssn redacted]"

# --------------------------------------------------------------------------- API keys, tokens

# Formats with a recognisable prefix: a match is a secret no matter what surrounds it.
_TOKEN = re.compile(
    r"""
    \b(?:
        [sr]k_(?:live|test)_[0-9A-Za-z]{8,}          # Stripe secret / restricted keys
      | xox[abposr]-[0-9A-Za-z-]{8,}                 # Slack bot / user / app tokens
      | gh[pousr]_[0-9A-Za-z]{20,}                   # GitHub tokens (ghp_, gho_, ...)
      | (?:AKIA|ASIA)[0-9A-Z]{16}                    # AWS access key ids
      | eyJ[0-9A-Za-z_-]{6,}\.eyJ[0-9A-Za-z_-]{6,}\.[0-9A-Za-z_-]{6,}   # JWTs
    )\b
    """,
    re.VERBOSE,
)
# "Bearer <token>": the token must look like one (long, with a digit), so "bearer of bad news" stays.
_BEARER = re.compile(r"\b(Bearer\s+)(?=[\w\-.~+/]*\d)[\w\-.~+/]{16,}=*", re.IGNORECASE)

# --------------------------------------------------------------------------- IBAN

# Country code, two check digits, then 11-30 letters/digits printed in groups of four.
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b", re.IGNORECASE)
_IBAN_COUNTRIES = frozenset(
    {
        "AD", "AE", "AL", "AT", "AZ", "BA", "BE", "BG", "BH", "BI", "BR", "BY", "CH", "CR", "CY",
        "CZ", "DE", "DJ", "DK", "DO", "EE", "EG", "ES", "FI", "FK", "FO", "FR", "GB", "GE", "GI",
        "GL", "GR", "GT", "HR", "HU", "IE", "IL", "IQ", "IS", "IT", "JO", "KW", "KZ", "LB", "LC",
        "LI", "LT", "LU", "LV", "LY", "MC", "MD", "ME", "MK", "MN", "MR", "MT", "MU", "NI", "NL",
        "NO", "OM", "PK", "PL", "PS", "PT", "QA", "RO", "RS", "RU", "SA", "SC", "SD", "SE", "SI",
        "SK", "SM", "SO", "ST", "SV", "TL", "TN", "TR", "UA", "VA", "VG", "XK",
    }
)  # fmt: skip

# --------------------------------------------------------------------------- SSN, cards

# US SSN, dashed only (undashed 9 digits is too often something else); area 000/666/9xx is never issued.
_SSN = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")

# 13-19 digits: a group of four, then groups of 3-6 separated by nothing, one space or one dash
# (4-4-4-4, 4-6-5 Amex, 4-6-4 Diners, 4-4-4-4-3). Requiring real groups keeps phone numbers like
# "0044 20 7946 0958" out; the Luhn check keeps random long numbers out.
_CARD = re.compile(r"(?<![\w-])\d{4}(?:[ -]?\d{3,6}){2,4}(?![\w-])")

# --------------------------------------------------------------------------- CVV, passwords

_CVV = re.compile(
    r"\b(cvv2?|cvc2?|cvn|csc|card\s+verification\s+(?:code|value)|security\s+code)"
    r"(\s*(?:(?:is|was)\b\s*)?[:=#-]?\s*)(\d{3,4})\b",
    re.IGNORECASE,
)

# Keyword, lead-in, secret. The lead-in decides how sure we are that a secret follows:
#   ":" or "="          "password: x", "pw=abc"                     -> always a secret
#   "is" / "was"        "my password is Hunter2", "the password for the wifi is now x"
#                       -> a secret unless it is an everyday word ("my password is not working")
#   whitespace only     "pin 1234", "passcode 998877"                -> only if it looks like one
# The secret may be quoted; a "[" means it is already a placeholder (keeps redact() idempotent).
_PASSWORD = re.compile(
    r"""
    \b(?P<keyword>pass(?:\s?word|\s?code|phrase)s?|passwd|pwd|pw|pin(?:\s+(?:code|number))?)\b
    (?P<lead>
        \s*[:=]\s*
      | (?:\s+(?:for|to|of|on|at)\s+(?:(?:the|my|your|our|this|that)\s+)?[\w-]+(?:\s+[\w-]+)??)??
        \s+(?:is|was)\b\s*[:=]?\s*
        (?:(?:now|still|just|actually|currently|set\s+to|changed\s+to)\s+)?
      | \s+
    )
    (?!\[)(?P<secret>"[^"\n]+"|'[^'\n]+'|\S+)
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Words that follow "my password is ..." in complaints, not secrets ("my password is not working").
_NOT_A_SECRET = frozenset(
    {
        "a", "an", "the", "my", "your", "our", "this", "that", "it", "not", "no", "never", "wrong",
        "incorrect", "invalid", "expired", "correct", "right", "too", "very", "being", "still",
        "now", "also", "already", "just", "required", "reset", "changed", "locked", "blocked",
        "long", "short", "weak", "strong", "working", "broken", "missing", "lost", "forgotten",
        "empty", "same", "different", "case", "sensitive", "rejected", "accepted", "fine", "ok",
        "okay", "in", "on", "for", "what", "there", "here", "only", "probably", "definitely",
        "supposed", "saved", "stored", "set",
    }
)  # fmt: skip
_TRAILING_PUNCTUATION = ".,;:!?)\"'"


def _luhn_ok(digits: str) -> bool:
    """The check digit every payment card number carries; random numbers fail it 9 times in 10."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    # A card number is often followed by more digits ("4111 1111 1111 1111 123" with the CVV, or
    # the expiry year): try the whole run, then shorter runs of whole groups, and mask the first
    # one that is a valid card number.
    groups = re.split(r"[ -]", match.group(0))
    for end in range(len(groups), 0, -1):
        digits = "".join(groups[:end])
        if 13 <= len(digits) <= 19 and _luhn_ok(digits):
            rest = match.group(0)[len(" ".join(groups[:end])) :]
            return f"[card •••• {digits[-4:]}]{rest}"
    return match.group(0)


def _iban_ok(candidate: str) -> bool:
    """ISO 13616 mod-97 check: move the first four characters to the end, letters become 10..35."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _iban(match: re.Match[str]) -> str:
    candidate = match.group(0)
    if candidate[:2].upper() not in _IBAN_COUNTRIES:
        return candidate
    # Shouted text can run on into the match ("BE68 5390 0754 7034 PLEASE"): prefer the longest
    # prefix of whole chunks that passes the checksum, and keep the rest.
    chunks = candidate.split(" ")
    for end in range(len(chunks), 0, -1):
        prefix = " ".join(chunks[:end])
        if _iban_ok(prefix):
            return IBAN_REDACTED + candidate[len(prefix) :]
    # A mistyped IBAN is still account data; redact it when the length is plausible.
    bban_length = len(candidate.replace(" ", "")) - 4
    return IBAN_REDACTED if 11 <= bban_length <= 30 else candidate


def _looks_like_secret(word: str) -> bool:
    """A digit, a symbol or inner capitals: "Hunter2!", "p@ss", "tRoub4dor" but not "yesterday"."""
    word = word.rstrip(_TRAILING_PUNCTUATION)
    if not word:
        return False
    if any(char.isdigit() for char in word):
        return True
    if any(not char.isalnum() and char not in "'-" for char in word):
        return True
    return any(char.isupper() for char in word[1:]) and any(char.islower() for char in word)


def _password(match: re.Match[str]) -> str:
    keyword, lead, secret = match.group("keyword", "lead", "secret")
    if secret[0] in "\"'" or ":" in lead or "=" in lead:
        pass  # quoted, or "password: x" / "pw=abc": always a secret
    elif lead.strip():  # "my password is ..."
        if secret.rstrip(_TRAILING_PUNCTUATION).lower() in _NOT_A_SECRET:
            return match.group(0)
    elif not _looks_like_secret(secret):  # "password reset" stays, "pin 1234" goes
        return match.group(0)
    return f"{keyword}{lead}{REDACTED}"


def redact(text: str) -> str:
    """Replace card numbers, CVVs, passwords/PINs, IBANs, SSNs and API tokens in ``text``.

    Order matters: prefixed tokens first (they contain digit runs), then IBANs (whose digits
    could pass as a card number), SSNs, cards, and last the keyword rules, which skip anything
    already replaced by a ``[...]`` placeholder.
    """
    if not text:
        return text
    text = _TOKEN.sub(SECRET, text)
    text = _BEARER.sub(lambda m: m.group(1) + SECRET, text)
    text = _IBAN.sub(_iban, text)
    text = _SSN.sub(SSN_REDACTED, text)
    text = _CARD.sub(_card, text)
    text = _CVV.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _PASSWORD.sub(_password, text)


class RedactingFilter(logging.Filter):
    """Logging filter that redacts the message template and its string arguments.

    Attach it to *handlers* (``handler.addFilter(RedactingFilter())``): a filter on a logger
    only sees records logged on that exact logger, not on its children. Non-string arguments
    and exception tracebacks are left as they are; log customer text as ``%s`` arguments.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {
                key: redact(value) if isinstance(value, str) else value for key, value in record.args.items()
            }
        return True


def install_log_redaction() -> None:
    """Put one :class:`RedactingFilter` on every root log handler (idempotent).

    Called once at process start-up by the worker and by the ``actions`` package, after
    logging is configured: handlers added later are not covered.
    """
    redacting = RedactingFilter()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)
