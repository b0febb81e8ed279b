"""Redaction of secrets in customer text (bot.redact): what goes, what must stay."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from bot.redact import RedactingFilter, anonymise, install_log_redaction, redact

# Test card numbers published by the card networks / Stripe (all pass Luhn).
VISA = "4111111111111111"
VISA_STRIPE = "4242424242424242"
MASTERCARD = "5555555555554444"
AMEX = "378282246310005"
DISCOVER = "6011111111111117"
VISA_19 = "4111111111111111110"  # 19 digits, Luhn-valid


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"my card is {VISA}", "my card is [card •••• 1111]"),
        ("card: 4111 1111 1111 1111, exp 12/27", "card: [card •••• 1111], exp 12/27"),
        ("4111-1111-1111-1111", "[card •••• 1111]"),
        (VISA_STRIPE, "[card •••• 4242]"),
        (f"mastercard {MASTERCARD} please", "mastercard [card •••• 4444] please"),
        ("amex 3782 822463 10005", "amex [card •••• 0005]"),
        (AMEX, "[card •••• 0005]"),
        (DISCOVER, "[card •••• 1117]"),
        (VISA_19, "[card •••• 1110]"),
        ("(4111111111111111)", "([card •••• 1111])"),
        ("card #4111111111111111.", "card #[card •••• 1111]."),
        # the CVV or expiry right after the number goes with it (PCI DSS: never store a CVV)
        ("4111 1111 1111 1111 123", "[card •••• 1111] [redacted]"),
        ("4111-1111-1111-1111-2027", "[card •••• 1111]-[redacted]"),
        ("41111111111111112027", "[card •••• 1111] [redacted]"),
        ("4111111111111111123", "[card •••• 1111] [redacted]"),
        # every way of typing the groups
        ("4111.1111.1111.1111", "[card •••• 1111]"),
        ("4111/1111/1111/1111", "[card •••• 1111]"),
        ("4111  1111  1111  1111", "[card •••• 1111]"),
        ("card:\n4111 1111\n1111 1111\nthanks", "card:\n[card •••• 1111]\nthanks"),
        ("exp 12/27 4111 1111 1111 1111", "exp 12/27 [card •••• 1111]"),
        ("4111111111111111 and 5555555555554444", "[card •••• 1111] and [card •••• 4444]"),
    ],
)
def test_card_numbers_keep_only_the_last_four_digits(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # fails Luhn
        "4111111111111112",
        "123456789012",  # 12-digit tracking number
        "tracking 394852017746",
        "FedEx 612999283746301",  # 15 digits, fails Luhn
        "USPS 9400111899223197428490",  # 22 digits: too long to be a card
        "UPS 1Z999AA10123456784",
        "JD014600004711",
        "+49 151 2345 6789 0",  # an international phone number, however long
        "IMEI 356938035643809",  # IMEIs pass Luhn by design
        "0044 20 7946 0958 12",
        "orders 104233 104234 118020",
    ],
)
def test_long_numbers_that_are_not_cards_stay(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cvv 123", "cvv [redacted]"),
        ("CVV: 123", "CVV: [redacted]"),
        ("cvc: 4567", "cvc: [redacted]"),
        ("cvv2=987", "cvv2=[redacted]"),
        ("security code is 123", "security code is [redacted]"),
        ("the security code: 4321 thanks", "the security code: [redacted] thanks"),
        ("exp 12/27 cvv 123", "exp 12/27 cvv [redacted]"),
    ],
)
def test_cvv_after_keyword(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my password is Hunter2!", "my password is [redacted]"),
        ("password: x", "password: [redacted]"),
        ("Password:hunter2", "Password:[redacted]"),
        ("pw=abc", "pw=[redacted]"),
        ("pwd = s3cret", "pwd = [redacted]"),
        ("pin 1234", "pin [redacted]"),
        ("my PIN is 4321", "my PIN is [redacted]"),
        ("pin code: 0000", "pin code: [redacted]"),
        ("passcode 998877", "passcode [redacted]"),
        ("pass code is 2468", "pass code is [redacted]"),
        ("my password is hunter", "my password is [redacted]"),
        ("the password for the wifi is Tr0ub4dor&3", "the password for the wifi is [redacted]"),
        ("my password is now hunter2 ok?", "my password is now [redacted] ok?"),
        ("password was set to CorrectHorse", "password was set to [redacted]"),
        ('password: "correct horse battery"', "password: [redacted]"),
        ("my passphrase: 'open sesame'", "my passphrase: [redacted]"),
    ],
)
def test_passwords_and_pins_keep_the_keyword(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I forgot my password",
        "I forgot my password yesterday",
        "reset my password please",
        "my password is not working",
        "my password is wrong apparently",
        "the password is too long for the app",
        "password reset link never arrived",
        "password isn't accepted",
        "passwords don't match",
        "I changed my pin yesterday",
        "Can you pin this chat?",
    ],
)
def test_talking_about_passwords_is_not_a_secret(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IBAN DE89 3704 0044 0532 0130 00 thanks", "IBAN [iban redacted] thanks"),
        ("DE89370400440532013000", "[iban redacted]"),
        ("GB33BUKB20201555555555", "[iban redacted]"),
        ("pay to GB33 BUKB 2020 1555 5555 55.", "pay to [iban redacted]."),
        ("FR14 2004 1010 0505 0001 3M02 606", "[iban redacted]"),
        ("NL91ABNA0417164300", "[iban redacted]"),
        # shouted words after the IBAN are not part of it (checksum decides where it ends)
        ("BE68 5390 0754 7034 PLEASE", "[iban redacted] PLEASE"),
        ("de89 3704 0044 0532 0130 00", "[iban redacted]"),
        # a mistyped IBAN is still account data
        ("DE89 3704 0044 0532 0130 01", "[iban redacted]"),
    ],
)
def test_ibans(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my ssn is 123-45-6789", "my ssn is [ssn redacted]"),
        ("SSN: 078-05-1120.", "SSN: [ssn redacted]."),
    ],
)
def test_us_social_security_numbers(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", ["000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "2024-01-15"])
def test_numbers_that_cannot_be_ssns_stay(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "key [secret redacted]"),
        ("sk_test_51H8xYzAbCdEfGhIjKlMn", "[secret redacted]"),
        ("token xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "token [secret redacted]"),
        ("xoxp-1234567890-abcdefghij", "[secret redacted]"),
        ("ghp_16C7e42F292c6912E7710c838347Ae178B4a ok", "[secret redacted] ok"),
        ("AKIAIOSFODNN7EXAMPLE", "[secret redacted]"),
        ("aws key: AKIAIOSFODNN7EXAMPLE,", "aws key: [secret redacted],"),
        (
            "Authorization: Bearer abcDEF123456ghiJKL789.xyz",
            "Authorization: Bearer [secret redacted]",
        ),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "[secret redacted]",
        ),
    ],
)
def test_api_keys_and_tokens(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "where is my order HL-104233",
        "order #HL-104233 and HL-100982",
        "call me on +1 415-555-0123",
        "my number is (415) 555 0123",
        "ring 0044 20 7946 0958 after 5",
        "+44 7700 900123",
        "delivered on 2024-01-15 or 15/01/2024 or Jan 15, 2024",
        "it cost $1,299.00 and the other one €89.99",
        "I paid 1299.00",
        "email me at jane.doe+support@example.com",
        "password@example.com is my login",
        "the bearer of bad news",
        "sk_live is the prefix, right?",
        "Serial number SN-2023-0042-7781",
        "the hub model HLH-200 v2.1.3",
        "",
    ],
)
def test_everyday_support_text_is_untouched(text: str) -> None:
    assert redact(text) == text


def test_everything_in_one_message() -> None:
    text = (
        "Hi, order HL-104233. Card 4242 4242 4242 4242 cvv 123, my password is Hunter2! "
        "and IBAN GB33BUKB20201555555555. Call +1 415-555-0123. Total $1,299.00."
    )
    assert redact(text) == (
        "Hi, order HL-104233. Card [card •••• 4242] cvv [redacted], my password is [redacted] "
        "and IBAN [iban redacted]. Call +1 415-555-0123. Total $1,299.00."
    )


@pytest.mark.parametrize(
    "text",
    [
        "my card is 4111 1111 1111 1111 and cvv 123",
        "pin 4111 1111 1111 1111",
        "my password is now hunter2",
        "password is Hunter2! and pin 1234 and pw=abc",
        "Bearer abcDEF123456ghiJKL789 and sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "IBAN DE89 3704 0044 0532 0130 00, ssn 123-45-6789",
        "security code is 123",
    ],
)
def test_idempotent(text: str) -> None:
    once = redact(text)
    assert once != text
    assert redact(once) == once


@pytest.mark.parametrize(
    "text",
    [
        "password: [redacted]",
        "my password is [redacted]",
        "[card •••• 1234] cvv [redacted]",
        "Bearer [secret redacted]",
        "[iban redacted] [ssn redacted]",
    ],
)
def test_placeholders_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_placeholders_do_not_leak_digits() -> None:
    redacted = redact("pin 4111 1111 1111 1111 cvv 987")
    assert "987" not in redacted
    assert "4111" not in redacted
    assert redacted == "pin [card •••• 1111] cvv [redacted]"


# --------------------------------------------------------------------------- logging filter


def _record(msg: object, args: object) -> logging.LogRecord:
    return logging.LogRecord("test", logging.INFO, __file__, 1, msg, args, None)  # type: ignore[arg-type]


def test_filter_redacts_message_and_tuple_args() -> None:
    record = _record("customer %s wrote: %s (%d)", ("anna", "my card is 4111111111111111", 7))
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "customer anna wrote: my card is [card •••• 1111] (7)"


def test_filter_redacts_dict_args() -> None:
    record = _record("%(who)s: %(text)s", ({"who": "anna", "text": "pw=abc", "n": 3},))
    RedactingFilter().filter(record)
    assert record.getMessage() == "anna: pw=[redacted]"
    assert not record.args  # formatted into the message, so no handler sees the raw values


def test_filter_redacts_message_without_args_and_non_string_messages() -> None:
    record = _record("token ghp_16C7e42F292c6912E7710c838347Ae178B4a", None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "token [secret redacted]"

    record = _record(ValueError("card 4111111111111111 declined"), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "card [card •••• 1111] declined"


def test_filter_on_a_handler(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("bot.test_redact.child")
    redacting = RedactingFilter()
    caplog.handler.addFilter(redacting)
    try:
        with caplog.at_level(logging.INFO, logger="bot.test_redact"):
            logger.info("relay to slack: %s", "cvv 123, ssn 123-45-6789")
    finally:
        caplog.handler.removeFilter(redacting)
    assert caplog.messages == ["relay to slack: cvv [redacted], ssn [ssn redacted]"]


def test_filter_redacts_non_string_arguments() -> None:
    """Exceptions, bytes, dicts and lists as arguments: formatted first, then redacted."""
    record = _record(
        "failed: %s %s %s %r",
        (ValueError("pw=hunter2"), b"card 4111111111111111", {"text": "cvv 123"}, ["AKIAIOSFODNN7EXAMPLE"]),
    )
    RedactingFilter().filter(record)
    message = record.getMessage()
    for secret in ("hunter2", "4111111111111111", "cvv 123", "AKIAIOSFODNN7EXAMPLE"):
        assert secret not in message
    assert "[card •••• 1111]" in message


def test_filter_catches_a_secret_split_between_template_and_argument() -> None:
    record = _record("customer said password: %s", ("hunter2",))
    RedactingFilter().filter(record)
    assert record.getMessage() == "customer said password: [redacted]"


def test_filter_redacts_tracebacks_and_stacks() -> None:
    try:
        raise RuntimeError("payment failed for card 4111 1111 1111 1111, my password is Hunter2!")
    except RuntimeError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("test", logging.ERROR, __file__, 1, "boom", None, exc_info)
    record.stack_info = "Stack (most recent call last):\n  token = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'"
    RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "RuntimeError: payment failed for card [card •••• 1111]" in formatted
    assert "Traceback (most recent call last)" in formatted
    for secret in ("4111 1111 1111 1111", "Hunter2", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"):
        assert secret not in formatted
    assert record.exc_info is None  # no later formatter can render the raw traceback again


def test_logging_an_exception_through_a_handler(caplog: pytest.LogCaptureFixture) -> None:
    redacting = RedactingFilter()
    caplog.handler.addFilter(redacting)
    try:
        with caplog.at_level(logging.INFO, logger="bot.test_redact"):
            try:
                raise KeyError(b"ssn 123-45-6789")
            except KeyError:
                logging.getLogger("bot.test_redact.child").exception("lookup of %s failed", b"pin 4321")
    finally:
        caplog.handler.removeFilter(redacting)
    assert "123-45-6789" not in caplog.text and "4321" not in caplog.text
    assert "[ssn redacted]" in caplog.text


def test_install_covers_loggers_that_do_not_propagate() -> None:
    logger = logging.getLogger("bot.test_redact.isolated")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    logger.propagate = False
    try:
        install_log_redaction()
        install_log_redaction()  # idempotent
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        logger.warning("token %s", "xoxb-123456789012-abcdefghijkl")
        assert "xoxb-123456789012" not in handler.stream.getvalue()
    finally:
        logger.removeHandler(handler)


def test_filter_takes_a_removed_secret_out_of_later_records_too() -> None:
    """Rasa logs a message, then the slots filled from it: the copy has no keyword of its own."""
    redacting = RedactingFilter()
    first = _record("user text: %s", ("verification code: 583920",))
    later = _record("slot_values: order_number: %s, email: None", ("583920",))
    unrelated = _record("order HL-104233 costs 1299", None)
    for record in (first, later, unrelated):
        redacting.filter(record)
    assert first.getMessage() == "user text: verification code: [redacted]"
    assert later.getMessage() == "slot_values: order_number: [redacted], email: None"
    assert unrelated.getMessage() == "order HL-104233 costs 1299"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("mail me at jane.doe@example.com", "mail me at [email]"),
        ("call 07700 900123 or +44 20 7946 0958", "call [number] or [number]"),
        ("where is HL-104233? tracking 1Z999AA10123456784", "where is [order number]? tracking [number]"),
        ("card 4111 1111 1111 1111", "card [card •••• 1111]"),
        ("refund of $45.99 on 3 Nov 2026", "refund of $45.99 on 3 Nov 2026"),
    ],
)
def test_anonymise_takes_out_whose_question_it_was_for_reports(text: str, shown: str) -> None:
    """Reports, the dashboard and the digest show many customers' words to people not helping them."""
    assert anonymise(text) == shown
