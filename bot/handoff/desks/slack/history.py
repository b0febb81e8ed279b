"""The card's "Earlier handoffs" and "Last survey" lines (from bot/customer_history.py via the packet).

Each earlier handoff links to its Slack thread with an archive permalink built from the
card's channel id and ts. Why no ``chat.getPermalink`` call: the archive URL form is stable
and Slack redirects it to the message in the workspace of whoever clicks, so one card render
costs no API requests (the card is re-rendered on every change, and the desk must not spend
Slack's rate limits on what it already knows). Channel and ts come from our own table but
are still checked against Slack's formats, so a stored value can never smuggle mrkdwn in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.customer_history import score_text
from bot.formatting import long_date
from bot.handoff.desks.slack.layout import (
    SECTION_TEXT_LIMIT,
    clean,
    humanise,
    join_capped,
    own,
    section,
    units,
)
from bot.handoff.desks.slack.people import NAME_LIMIT

MAX_EARLIER = 5
REASON_LIMIT = 150
COMMENT_LIMIT = 300

CHANNEL_ID = re.compile(r"[CDG][A-Z0-9]{2,30}")
MESSAGE_TS = re.compile(r"\d{6,12}\.\d{1,8}")


def thread_link(channel: Any, ts: Any) -> str | None:
    """``https://slack.com/archives/C123/p1700000000123456`` for a card, or None if it was not on Slack."""
    channel, ts = str(channel or ""), str(ts or "")
    if not CHANNEL_ID.fullmatch(channel) or not MESSAGE_TS.fullmatch(ts):
        return None
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def _day(value: Any) -> str:
    return long_date(value) or "date unknown"


def _handoff_line(handoff: Mapping[str, Any]) -> str:
    label = f"{_day(handoff.get('created_at'))} (#{own(handoff.get('id'), 12)})"
    link = thread_link(handoff.get("desk_channel"), handoff.get("card_ts"))
    parts = [f"<{link}|{label}>" if link else label]
    if handoff.get("team"):
        parts.append(own(handoff["team"], 80))
    parts.append(own(humanise(handoff.get("status") or "unknown"), 40))
    if handoff.get("agent"):
        parts.append(own(handoff["agent"], NAME_LIMIT))
    line = "• " + " · ".join(parts)
    reason = clean(" ".join(str(handoff.get("reason") or "").split()), REASON_LIMIT)
    return line + (f" — {reason}" if reason else "")


def survey_line(survey: Any) -> str | None:
    """``*Last survey:* CSAT 2/5 on 3 Nov 2026 — “comment”``; None without a readable answer."""
    if not isinstance(survey, Mapping):
        return None
    score = score_text(survey.get("kind"), survey.get("score"))
    if not score:
        return None
    line = f"*Last survey:* {score}"
    if long_date(survey.get("answered_at")):
        line += f" on {long_date(survey['answered_at'])}"
    comment = clean(" ".join(str(survey.get("comment") or "").split()), COMMENT_LIMIT)
    return line + (f" — “{comment}”" if comment else "")


def history_section(packet: Mapping[str, Any]) -> dict[str, Any] | None:
    """One section: the customer's earlier handoffs (linked to their threads), then the last survey."""
    handoffs = [h for h in packet.get("earlier_handoffs") or () if isinstance(h, Mapping)][:MAX_EARLIER]
    survey = survey_line(packet.get("last_survey"))
    if not handoffs and not survey:
        return None
    text = ""
    if handoffs:
        lines = [_handoff_line(handoff) for handoff in handoffs]
        room = SECTION_TEXT_LIMIT - (units(survey) + 1 if survey else 0)
        text = join_capped("*Earlier handoffs*", lines, room, "handoffs")
    if survey:
        text = f"{text}\n{survey}" if text else survey
    return section(text)
