"""What the relay posts in a Slack card's thread: customer messages and short notices, as mrkdwn."""

from __future__ import annotations

from typing import Any

from bot.handoff.desks.base import Notice, notice_kind
from bot.handoff.desks.notices import Style, notice_text
from bot.handoff.desks.slack.layout import SECTION_TEXT_LIMIT, clean, own, units
from bot.handoff.routing import GROUP_ID

NOTICE_EMOJI = {
    Notice.CLAIMED: ":technologist:",
    Notice.RESOLVED: ":white_check_mark:",
    Notice.DELIVERY_FAILED: ":warning:",
    Notice.HOW_TO: ":memo:",
    Notice.NOTES_HINT: ":memo:",
    Notice.FOLLOWUP: ":envelope_with_arrow:",
    Notice.NOT_SENT_RESOLVED: ":no_entry_sign:",
    Notice.TIMED_OUT: ":alarm_clock:",
    Notice.AFTER_HOURS: ":crescent_moon:",
    Notice.GAVE_UP: ":x:",
    Notice.SURVEY_FOLLOWUP: ":rotating_light:",
    Notice.TRANSFERRED_OUT: ":arrow_right:",
    Notice.TRANSFERRED_IN: ":inbox_tray:",
    Notice.ASSIGNED: ":point_right:",
    Notice.TAKEN_OVER: ":raised_hand:",
    Notice.HANDED_BACK: ":leftwards_arrow_with_hook:",
    Notice.SLA_REMINDER: ":hourglass_flowing_sand:",
    Notice.STILL_LOOKING: ":speech_balloon:",
    Notice.SAVED_REPLY: ":bookmark_tabs:",
}
# Every value escaped for mrkdwn; text that can quote the customer is redacted too.
MRKDWN = Style(
    own=own,
    untrusted=clean,
    body_limit=SECTION_TEXT_LIMIT - 100,
    bold=lambda text: f"*{text}*",
    italic=lambda text: f"_{text}_",
    link=lambda url, label: f"<{url}|{label}>",  # our own URL (a Slack permalink), never the customer's
    group=lambda group_id: f"<!subteam^{group_id}>" if GROUP_ID.fullmatch(group_id) else "",
)


def customer_message_text(text: str) -> str:
    """A thread reply relaying what the customer wrote after the handoff (redacted and escaped)."""
    prefix = ":speech_balloon: *Customer:* "
    body = clean(text, SECTION_TEXT_LIMIT - units(prefix)) or "_(no text)_"
    return prefix + body


def status_text(kind: str, **fields: Any) -> str:
    """A short thread notice about the handoff (see :class:`~bot.handoff.desks.base.Notice`)."""
    return f"{NOTICE_EMOJI[notice_kind(kind)]} {notice_text(kind, MRKDWN, **fields)}"
