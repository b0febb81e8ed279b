"""Sending the bot's few emails: one-time codes and "a new chat was linked" notices.

A plain SMTP client (the standard library's ``smtplib``) pointed at the server in
``SMTP_HOST``/``SMTP_PORT`` (see :class:`bot.settings_sections.MailSettings`), because a
code only proves ownership of an account if it travels to the account's own address,
outside the chat. The texts come from domain.yml (``utter_mail_*``) like every other text
a customer reads.

:func:`send_later` sends in a thread of its own without making the caller wait: the chat's
answer must not take longer when an address matched (a mail is sent) than when it did not
(nothing is sent), or the delay itself would tell a stranger that it matched.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from concurrent.futures import Future, ThreadPoolExecutor
from email.message import EmailMessage

from bot.settings import settings
from bot.settings_sections import MailSettings

logger = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 15
IMPLICIT_TLS_PORT = 465

# Its own threads, not the event loop's: a send outlives the chat turn that asked for it.
_sender = ThreadPoolExecutor(max_workers=2, thread_name_prefix="smtp")


class MailNotConfigured(RuntimeError):
    """SMTP_HOST or SMTP_FROM is not set, so the bot cannot send a mail."""


def mail_settings() -> MailSettings:
    return settings().mail


def mail_configured() -> bool:
    """Whether the bot can send mail (and so offer to link a new chat to an account)."""
    return mail_settings().configured


def message(to: str, subject: str, body: str, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, to, subject
    mail.set_content(body)
    return mail


def send_mail(to: str, subject: str, body: str) -> None:
    """Deliver one plain-text mail through the configured SMTP server (blocking)."""
    config = mail_settings()
    if not config.configured:
        raise MailNotConfigured(
            "set SMTP_HOST and SMTP_FROM (docs/configuration.md) so the bot can send mail"
        )
    assert config.smtp_host and config.smtp_from
    mail = message(to, subject, body, config.smtp_from)
    context = ssl.create_default_context()
    if config.smtp_port == IMPLICIT_TLS_PORT:
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            config.smtp_host, config.smtp_port, timeout=SMTP_TIMEOUT_SECONDS, context=context
        )
    else:
        client = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=SMTP_TIMEOUT_SECONDS)
    with client:
        if config.smtp_starttls and config.smtp_port != IMPLICIT_TLS_PORT:
            client.starttls(context=context)
        if config.smtp_user:
            client.login(config.smtp_user, config.smtp_password or "")
        client.send_message(mail)


def _send_logged(to: str, subject: str, body: str, what: str) -> None:
    try:
        send_mail(to, subject, body)
    except (OSError, smtplib.SMTPException, MailNotConfigured) as exc:
        logger.error("could not send the %s mail via SMTP_HOST: %s", what, exc)


def send_later(to: str, subject: str, body: str, *, what: str) -> Future[None]:
    """Send in the background; a failure is logged (the customer can ask for a person)."""
    return _sender.submit(_send_logged, to, subject, body, what)
