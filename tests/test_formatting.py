"""Money, dates and masked e-mails (bot.formatting): one way for customers' replies and agents' desks."""

from __future__ import annotations

from datetime import date, datetime, timezone

from actions import common
from bot.formatting import clock, format_day, format_money, long_date, mask_email, parse_time


def test_money_is_exact_with_the_symbol_people_know() -> None:
    assert format_money(12900, "GBP") == "£129.00"
    assert format_money(123456789, "USD") == "$1,234,567.89"
    assert format_money(5, "EUR") == "€0.05"
    assert format_money(1999) == "$19.99"  # the actions' default currency
    assert format_money(12900, "CHF") == "129.00 CHF"
    assert format_money(12900, "gbp") == "£129.00"
    assert format_money(-1900, "GBP") == "-£19.00"  # a refund shown as a debit keeps its sign up front
    assert format_money(None, "GBP") == "" and format_money("lots", "GBP") == ""


def test_emails_are_masked_enough_to_recognise_not_to_leak() -> None:
    assert mask_email("maria.lopez@example.com") == "m***@example.com"
    assert mask_email("maria.lopez@example.com", mask="•••") == "m•••@example.com"
    assert mask_email("not-an-email") == "" and mask_email(None, missing="?") == "?"
    assert mask_email("@example.com", missing="?") == "?"


def test_dates_for_customers_and_for_agents() -> None:
    assert format_day(date(2026, 11, 5)) == "Thu 5 Nov"
    assert format_day(None, missing="soon") == "soon"
    assert long_date("2026-11-05") == "5 Nov 2026" == long_date(date(2026, 11, 5))
    assert long_date("2026-11-05T14:03:27+00:00") == "5 Nov 2026"
    assert long_date("next week") == "" and long_date(None) == ""
    assert clock(datetime(2026, 11, 5, 14, 3, tzinfo=timezone.utc).timestamp()) == "14:03"
    assert clock("2026-11-05T15:03:00+01:00") == "14:03"  # always UTC, as the desks say
    assert clock("2026-11-05T14:03:00") == "14:03"  # naive means UTC
    assert clock("") == "" and parse_time("garbage") is None


def test_the_actions_reply_with_the_same_formatter_and_their_own_fallback_words() -> None:
    assert common.format_money is format_money
    assert common.mask_email("maria.lopez@example.com") == "m***@example.com"
    assert common.mask_email(None) == "the email address on your account"
    assert common.format_day(date(2026, 11, 5)) == "Thu 5 Nov" and common.format_day(None) == "soon"
