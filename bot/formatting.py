"""Money, dates and masked e-mail addresses, the one way the whole project writes them.

Why one module: the actions (what customers read) and the agent desks (what agents read)
each had their own copy, and the copies disagreed (``-$1.00`` vs ``$-1.00``, lower-case
currency codes shown differently). These functions return plain text; escaping for a
particular surface (Slack mrkdwn, HTML) is the job of the desk that shows it.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

__all__ = [
    "CURRENCY_SYMBOLS",
    "clock",
    "format_day",
    "format_money",
    "long_date",
    "mask_email",
    "parse_time",
]

CURRENCY_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€"}


def format_money(cents: Any, currency: Any = "USD") -> str:
    """``£129.00`` for currencies people know by symbol, else ``129.00 CHF``; "" for no amount.

    Integer arithmetic on cents, so ``1999`` is always ``19.99`` (never a float rounding).
    """
    try:
        amount = int(cents)
    except (TypeError, ValueError):
        return ""
    whole, fraction = divmod(abs(amount), 100)
    sign = "-" if amount < 0 else ""
    code = str(currency or "").strip().upper()
    symbol = CURRENCY_SYMBOLS.get(code)
    if symbol:
        return f"{sign}{symbol}{whole:,}.{fraction:02d}"
    return f"{sign}{whole:,}.{fraction:02d} {code}".strip()


def mask_email(email: Any, *, mask: str = "***", missing: str = "") -> str:
    """``maria.lopez@example.com`` → ``m***@example.com``: enough to recognise, not to leak.

    ``mask`` lets a surface pick characters that are not markup there (Slack mrkdwn reads
    ``*`` as bold, so the Slack desk uses ``•••``). ``missing`` is returned for anything
    that is not an address.
    """
    text = str(email or "").strip()
    local, at, domain = text.partition("@")
    if not at or not local or not domain:
        return missing
    return f"{local[:1]}{mask}@{domain}"


def format_day(day: date | None, *, missing: str = "") -> str:
    """``Thu 5 Nov``: the short date customers read in a chat reply."""
    return f"{day:%a} {day.day} {day:%b}" if day else missing


def long_date(value: Any) -> str:
    """``5 Nov 2026`` from a date or an ISO date/datetime string; "" when it is not a date."""
    if not value:
        return ""
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    except ValueError:
        return ""
    return f"{day.day} {day:%b %Y}"


def parse_time(value: Any) -> datetime | None:
    """A UTC datetime from an epoch number or ISO text (naive means UTC); None if unusable."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, datetime):
            when = value
        elif isinstance(value, int | float):
            when = datetime.fromtimestamp(value, tz=timezone.utc)
        else:
            when = datetime.fromisoformat(str(value))
    except (ValueError, OverflowError, OSError):
        return None
    if when.tzinfo is None:  # the context packet stores UTC; a naive value is UTC too
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def clock(value: Any) -> str:
    """``HH:MM`` in UTC, or "" when there is no usable timestamp."""
    when = parse_time(value)
    return when.strftime("%H:%M") if when else ""
