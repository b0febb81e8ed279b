"""Redaction of secrets in customer-written text before it is stored, shown to a desk or logged.

It lives at the top of ``bot`` because every process that sees customer text needs it: the
action server (the handoff packet, conversation summaries, its logs), the worker (outbox
payloads, desk cards, the inbox, its logs) and the Rasa server (its logs).

Why: customers paste card numbers, CVVs, passwords, one-time codes and API keys into support
chats. A human agent never needs the secret itself (PCI DSS forbids storing a CVV at all and
wants card numbers masked to the last four digits), Slack keeps every message for the
workspace's retention period, searchable by everyone in the channel, and database rows and
log files are copied around even more freely. So secrets are replaced *before* the text is
stored, with a placeholder that still tells the agent what was there (``[card •••• 1234]``,
``password [redacted]``).

The rules err towards precision on everyday support text: order numbers (``HL-104233``),
phone numbers, dates, prices, emails and tracking numbers (``1Z999AA10123456784``) stay
readable, because an agent who cannot read the order number cannot help. So card numbers
must start like one and pass the Luhn check, undashed SSNs and one-time codes need their
keyword ("SSN", "code", "OTP" …), and passwords are only taken after a keyword (and,
without a ``:``/``=``/``is``, only when the word looks like a secret): "I forgot my
password" is left alone. The rules themselves are in :mod:`bot.redact_rules` (shapes) and
:mod:`bot.redact_words` (keywords); this module applies them to text, JSON and logs.

:func:`redact` is pure and fast (precompiled, linear-time patterns, about 20 µs for a chat
message): it runs on every customer message. It is idempotent: its placeholders never
match a rule again. Only the log filter keeps state (recently removed secrets, in memory).
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from bot.redact_rules import REDACTED, REMOVED, RULES
from bot.redact_words import KEYWORD_RULES

_ALL_RULES = RULES + KEYWORD_RULES

__all__ = ["RedactingFilter", "anonymise", "install_log_redaction", "redact", "redact_json"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Seven or more digits, possibly grouped: phone numbers ("07700 900123", "+44 20 7946 0958").
# Ids of ten or more letters and digits: tracking numbers ("1Z999AA10123456784").
_LONG_NUMBER = re.compile(r"(?<![\w])\+?\d(?:[ ()./-]?\d){6,}(?![\w])")
_ID_WITH_DIGITS = re.compile(r"\b(?=[0-9A-Z]*\d)(?=[0-9A-Z]*[A-Z])[0-9A-Z]{10,}\b")


def redact(text: str) -> str:
    """Replace card numbers, CVVs, passwords/PINs/one-time codes, IBANs, SSNs, keys and tokens.

    The rules run in order (:data:`bot.redact_rules.RULES`, then the keyword rules of
    bot/redact_words.py): private keys and prefixed tokens first (they contain digit runs),
    then IBANs (whose digits could pass as a card number), SSNs, cards, and last the keyword
    rules, which skip ``[...]`` placeholders.
    """
    return _redact(text)[0]


def anonymise(text: str) -> str:
    """:func:`redact`, and also emails, order, phone and tracking numbers: for views of many customers.

    An agent helping one customer needs that customer's email and order number, so
    :func:`redact` keeps them. A report, the dashboard or the weekly digest shows what many
    customers wrote to people who are not helping them (the support lead, a channel), and
    needs the shape of a question, not whose it was: "where is [order number]?".
    """
    from bot import order_numbers  # reads nlu_data/entities.yml: only where it is needed

    text = redact(text)
    text = _EMAIL.sub("[email]", text)
    text = _ID_WITH_DIGITS.sub("[number]", text)
    text = _LONG_NUMBER.sub("[number]", text)  # before order numbers: a phone's last six digits are not one
    return order_numbers.pattern().sub("[order number]", text)


def _redact(text: str) -> tuple[str, set[str]]:
    """The redacted text, and the secrets taken out of it that are worth chasing elsewhere."""
    if not text:
        return text, set()
    token = REMOVED.set([])
    try:
        for rule in _ALL_RULES:
            text = rule(text)
        removed = REMOVED.get() or []
    finally:
        REMOVED.reset(token)
    echoes = {
        secret
        for secret in (part.strip().rstrip(".,;:!?)\"'") for part in removed)
        if len(secret) >= 8 or (len(secret) >= 4 and any(char.isdigit() for char in secret))
    }
    return _without(text, echoes), echoes


def _without(text: str, secrets: Iterable[str]) -> str:
    """Other copies of removed secrets go too.

    "verification code: 583920" next to the NLU's entity ``'value': '583920'`` in one log
    line, or "pin 4821 … as I said, 4821": the copy has no keyword of its own. Only secrets
    that cannot be everyday words are chased (4+ characters with a digit, or 8+).
    """
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", REDACTED, text)
    return text


class _RecentSecrets:
    """The last few hundred secrets the log filter removed, to catch their later copies.

    Rasa logs a message, then (in other records) the slots filled from it: a one-time code
    that the NLU took for an order number appears again as ``order_number: 583920``, with
    no keyword near it. Kept in this process's memory only, never written anywhere.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._secrets: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, secrets: Iterable[str]) -> None:
        with self._lock:
            for secret in secrets:
                self._secrets[secret] = None
                self._secrets.move_to_end(secret)
            while len(self._secrets) > self.size:
                self._secrets.popitem(last=False)

    def scrub(self, text: str) -> str:
        with self._lock:
            known = [secret for secret in self._secrets if secret in text]
        return _without(text, known) if known else text


def redact_json(value: Any) -> Any:
    """``value`` with :func:`redact` applied to every string in it (dict keys are left alone).

    For JSON documents that quote the customer: outbox payloads bound for a desk, packets.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_json(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """Logging filter that redacts the whole formatted message, the traceback and the stack.

    The message is formatted first (``record.getMessage()``) and then redacted, so nothing
    escapes through a non-string argument (an exception, bytes, a dict or a list), and a
    secret split between the template and its argument (``"password: %s"``) is still caught;
    afterwards ``record.args`` is empty. An exception is rendered into ``exc_text`` (redacted)
    and ``exc_info`` dropped, so no formatter renders the raw traceback again; ``stack_info``
    is redacted the same way. Secrets removed from one record are also taken out of the
    records after it (:class:`_RecentSecrets`): Rasa logs the slots filled from a message
    separately from the message.

    Attach it to *handlers* (``handler.addFilter(RedactingFilter())``): a filter on a logger
    only sees records logged on that exact logger, not on its children.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the pieces, redacted, and let logging report it
            message = " ".join(str(part) for part in (record.msg, record.args))
        record.msg, record.args = self._clean(message), ()
        if record.exc_info and record.exc_info != (None, None, None):
            if not record.exc_text:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True

    @staticmethod
    def _clean(text: str) -> str:
        text, removed = _redact(text)
        _RECENT.remember(removed)
        return _RECENT.scrub(text)


_RECENT = _RecentSecrets()


def install_log_redaction() -> None:
    """Put one :class:`RedactingFilter` on every log handler there is (idempotent).

    Called once at process start-up by the worker, by the ``actions`` package and by the
    customer channels (loaded into the Rasa server), after logging is configured: handlers
    added later are not covered.
    """
    redacting = RedactingFilter()
    loggers = [logging.getLogger()] + [
        logger
        for logger in list(logging.Logger.manager.loggerDict.values())
        if isinstance(logger, logging.Logger)
    ]  # the root's handlers, and those of loggers that do not propagate (sanic.access, ...)
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(redacting)
