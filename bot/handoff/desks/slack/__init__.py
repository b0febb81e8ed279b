"""The Slack desk: Block Kit card, mrkdwn escaping, text fitting, thread notices, the modal.

Modules, one job each: ``mrkdwn`` (escaping and the entity-safe cut), ``layout`` (Block Kit
limits, block objects, fitting), ``people`` (the customer fields), ``card`` (the card),
``thread`` (thread messages), ``transcript`` (conversation lines and the modal), ``desk``
(the Web API calls and their error mapping).
"""

from __future__ import annotations

from bot.handoff.desks.slack.card import (
    CLAIM,
    HAND_BACK,
    RESOLVE,
    TRANSCRIPT,
    TRANSFER,
    card_blocks,
    card_text,
)
from bot.handoff.desks.slack.desk import SlackDesk
from bot.handoff.desks.slack.people import channel_label, mask_email
from bot.handoff.desks.slack.thread import customer_message_text, status_text
from bot.handoff.desks.slack.transcript import TRANSCRIPT_MODAL_CALLBACK, transcript_modal

__all__ = [
    "CLAIM",
    "HAND_BACK",
    "RESOLVE",
    "TRANSCRIPT",
    "TRANSCRIPT_MODAL_CALLBACK",
    "TRANSFER",
    "SlackDesk",
    "card_blocks",
    "card_text",
    "channel_label",
    "customer_message_text",
    "mask_email",
    "status_text",
    "transcript_modal",
]
