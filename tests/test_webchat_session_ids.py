"""Web-chat session ids survive redaction: agents and logs see the conversation id as it is."""

from __future__ import annotations

import secrets

from bot.channels import webchat_sessions
from bot.channels.webchat_sessions import is_signed, new_session_id
from bot.redact import redact


def test_a_drawn_token_that_reads_as_an_iban_is_drawn_again(monkeypatch) -> None:
    # A token seen in CI: "GR52HXoP9QARBLIq7WRkUg" in the id came out as "[iban redacted]".
    iban_like = "GR52HXoP9QARBLIq7WRkUg"
    assert "[iban redacted]" in redact(f"wc-{iban_like}.signature")
    tokens = iter([iban_like, "plainTokenWithoutDigits"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda _bytes: next(tokens))
    session_id = new_session_id("secret")
    assert iban_like not in session_id and "plainTokenWithoutDigits" in session_id
    assert redact(session_id) == session_id
    assert is_signed("secret", session_id)


def test_thousands_of_fresh_ids_are_all_printed_as_themselves() -> None:
    ids = [new_session_id("secret") for _ in range(3000)]
    assert all(redact(i) == i for i in ids)
    assert len(set(ids)) == len(ids)
    assert all(i.startswith(webchat_sessions.PREFIX) and is_signed("secret", i) for i in ids)
