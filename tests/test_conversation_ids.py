"""Conversation ids reach agents as the platform wrote them: an X account id is no card number.

X account ids are snowflakes of up to 20 digits; about 15 % of random 19-digit ids pass the
card-number (Luhn) check, so redaction showed one X customer in seven as "[card •••• 3154]"
on the Slack card and in the transcript. Web-chat ids are drawn so that redaction leaves them
alone (tests/test_webchat_session_ids.py); other channels' ids are still redacted.
"""

from __future__ import annotations

import json
import random

from bot.handoff.desks.labels import conversation_id_text
from bot.handoff.desks.slack.people import fields_section
from bot.handoff.desks.slack.transcript import transcript_modal
from bot.redact import redact


def x_ids(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [str(rng.randrange(10**17, 2**63)) for _ in range(count)]


def test_x_account_ids_are_shown_as_they_are_though_redaction_would_take_many_for_cards() -> None:
    ids = x_ids(5000)
    assert sum(redact(i) != i for i in ids) > 500  # what the card showed before
    assert all(conversation_id_text("twitter", i) == i for i in ids)
    assert conversation_id_text("TWITTER", " 1580661436132757507 ") == "1580661436132757507"


def test_the_card_and_the_transcript_name_an_x_customer_by_their_id() -> None:
    for conversation_id in x_ids(300):
        packet = {"channel": "twitter", "conversation_id": conversation_id, "reason": "", "customer": None}
        assert f"*Conversation*\\n{conversation_id}" in json.dumps(fields_section(packet))
        modal = json.dumps(transcript_modal(packet, []))
        assert f"conversation {conversation_id} " in modal and "card" not in modal


def test_anything_else_is_still_redacted_and_escaped() -> None:
    card = "4111 1111 1111 1111"
    # the same digits on a channel whose ids the caller chooses (REST) are a card number
    assert conversation_id_text("rest", "4111111111111111") != "4111111111111111"
    # an "X id" that is not an X id's shape gets no pass
    assert "4111 1111" not in conversation_id_text("twitter", f"{card} call me")
    packet = {"channel": "twitter", "conversation_id": "<!channel> 123", "reason": "", "customer": None}
    rendered = json.dumps(fields_section(packet))
    assert "<!channel>" not in rendered and "&lt;!channel&gt;" in rendered
