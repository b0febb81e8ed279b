"""The wording of the thread notices, once for every desk; each desk supplies its own :class:`Style`.

Why: Slack and the local inbox post the same news ("Claimed by Alex", "Not sent — …"); the
words live here, and a desk only says how to make a value safe for its surface (escaped
mrkdwn on Slack, plain redacted text in the inbox) and how to emphasise a label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.handoff.desks.base import Notice, notice_kind

NAME_LIMIT = 80
NOTE_LIMIT = 500
# What a dead letter was (bot/handoff/store.py outbox kinds), for the GAVE_UP notice.
GAVE_UP_WHAT = {
    "customer.say": "a message to the customer",
    "customer.resume": "handing the conversation back to the bot",
    "customer.pause": "pausing the bot",
    "desk.update_card": "updating this card",
    "desk.post_thread": "a message in this thread",
    "desk.survey_followup": "a survey follow-up request",
}
# The survey scales (bot/surveys/answers.py SCALES), for "CSAT 2/5".
SURVEY_NAMES = {"csat": ("CSAT", 5), "nps": ("NPS", 10), "ces": ("CES", 7)}


def _same(text: str) -> str:
    return text


def _plain_link(url: str, label: str) -> str:
    return f"{label}: {url}"


@dataclass(frozen=True)
class Style:
    """How a desk makes values safe and emphasises words."""

    own: Callable[[Any, int], str]  # our own data (agent names, the note prefix): made safe, shortened
    untrusted: Callable[[Any, int], str]  # text that can quote the customer: also redacted
    body_limit: int  # how long the customer's follow-up message may be
    bold: Callable[[str], str] = _same
    italic: Callable[[str], str] = _same
    link: Callable[[str, str], str] = _plain_link  # (our own URL, its label)
    # A user group to notify (a validated ``S…`` id from business.yml), e.g. ``<!subteam^S1>``.
    group: Callable[[str], str] = lambda group_id: f"@{group_id}"


def notice_text(kind: str, style: Style, **fields: Any) -> str:
    """The notice in the desk's style; the fields each kind takes are listed on :class:`Notice`.

    An unknown kind raises ``ValueError`` so a typo fails loudly instead of posting a wrong notice.
    """
    notice = notice_kind(kind)
    agent = style.own(fields.get("agent"), NAME_LIMIT) or "an agent"
    note = style.untrusted(fields.get("note"), NOTE_LIMIT)
    if notice is Notice.CLAIMED:
        return f"Claimed by {agent}"
    if notice is Notice.RESOLVED:
        return f"Resolved by {agent} — the bot is back"
    if notice is Notice.DELIVERY_FAILED:
        error = style.untrusted(fields.get("error"), NOTE_LIMIT) or "unknown error"
        return f"Delivery to the customer failed: {error}"
    if notice in (Notice.HOW_TO, Notice.NOTES_HINT):
        prefix = style.own(fields.get("prefix") or "//", 20)
        return (
            "Replies in this thread go to the customer (claiming the handoff if needed). "
            f"Internal notes start with {prefix} and are not sent."
        )
    if notice is Notice.FOLLOWUP:
        body = style.untrusted(fields.get("text"), style.body_limit) or style.italic("(no text)")
        return f"{style.bold('The customer left a message:')} {body}"
    if notice is Notice.GAVE_UP:
        what = GAVE_UP_WHAT.get(str(fields.get("what")), "a delivery")
        error = style.untrusted(fields.get("error"), NOTE_LIMIT) or "unknown error"
        return f"Gave up on {what} — it was not delivered and will not be retried: {error}"
    if notice is Notice.SURVEY_FOLLOWUP:
        return _survey_followup(style, **fields)
    if notice in _TEAM_NOTICES:
        return _team_notice(notice, style, **fields)
    if notice is Notice.NOT_SENT_RESOLVED:
        return "Not sent — this handoff is resolved and the bot is back with the customer."
    if notice is Notice.TIMED_OUT:
        minutes = fields.get("minutes")
        within = f" within {style.own(minutes, 10)} min" if minutes is not None else ""
        return note or f"No one claimed this{within} — the bot offered to take a message"
    return note or "Outside support hours — no agents on shift"  # Notice.AFTER_HOURS


_TEAM_NOTICES = frozenset({
    Notice.TRANSFERRED_OUT, Notice.TRANSFERRED_IN, Notice.ASSIGNED, Notice.TAKEN_OVER,
    Notice.HANDED_BACK, Notice.SLA_REMINDER, Notice.STILL_LOOKING, Notice.SAVED_REPLY,
})  # fmt: skip
SLA_TARGETS = {"first_reply": "first reply", "resolution": "resolution"}


def _with_note(text: str, style: Style, note: str) -> str:
    return f"{text} {style.bold('Note:')} {note}" if note else text


def _linked(text: str, style: Style, link: Any, label: str) -> str:
    return f"{text} — {style.link(str(link), label)}" if link else text


def _team_notice(notice: Notice, style: Style, **fields: Any) -> str:
    """The notices of a team's desk: transfers, assignments, hand-backs, SLA, saved replies."""
    agent = style.own(fields.get("agent"), NAME_LIMIT) or "an agent"
    note = style.untrusted(fields.get("note"), NOTE_LIMIT)
    if notice is Notice.TRANSFERRED_OUT:
        team = style.own(fields.get("team"), NAME_LIMIT) or "another team"
        text = _linked(f"Transferred to {style.bold(team)} by {agent}", style, fields.get("link"), "new card")
        return _with_note(text, style, note)
    if notice is Notice.TRANSFERRED_IN:
        source = style.own(fields.get("from_team"), NAME_LIMIT) or "another team"
        text = _linked(f"Transferred here from {style.bold(source)} by {agent}", style, fields.get("link"),
                       "earlier thread")  # fmt: skip
        text = _with_note(text, style, note)
        summary = style.untrusted(fields.get("summary"), style.body_limit)
        return f"{text}\n{style.bold('So far:')} {summary}" if summary else text
    if notice is Notice.ASSIGNED:
        by = style.own(fields.get("by"), NAME_LIMIT) or "a lead"
        return _with_note(f"Assigned to {agent} by {by}", style, note)
    if notice is Notice.TAKEN_OVER:
        previous = style.own(fields.get("previous"), NAME_LIMIT) or "another agent"
        return f"Taken over by {agent} from {previous}"
    if notice is Notice.HANDED_BACK:
        return f"{agent} handed this back to the team's queue — anyone can claim it"
    if notice is Notice.SLA_REMINDER:
        return _sla_reminder(style, **fields)
    if notice is Notice.STILL_LOOKING:
        minutes = style.own(fields.get("minutes"), 10) or "a while"
        return f"No reply for {minutes} min — the customer was told {agent} is still looking into it"
    title = style.own(fields.get("title"), NAME_LIMIT) or "a saved reply"  # Notice.SAVED_REPLY
    body = style.untrusted(fields.get("text"), style.body_limit)
    return f"{agent} sent the saved reply {style.bold(title)}: {body}"


def _sla_reminder(style: Style, **fields: Any) -> str:
    """E.g. "@billing-agents First reply due in 3 min (team target)" or "… missed by 2 min"."""
    target = SLA_TARGETS.get(str(fields.get("target")), "reply")
    try:
        left = round(float(fields.get("minutes_left") or 0))
    except (TypeError, ValueError):
        left = 0
    when = f"due in {left} min" if left > 0 else ("due now" if left == 0 else f"missed by {-left} min")
    group = str(fields.get("group") or "")
    mention = f"{style.group(group)} " if group else ""
    return f"{mention}{style.bold('SLA:')} {target.capitalize()} {when} (the team's target)"


def _survey_followup(style: Style, **fields: Any) -> str:
    """E.g. "Unhappy customer after a handoff: CSAT 2/5 (handled by Alex). Their comment: …"."""
    name, top = SURVEY_NAMES.get(str(fields.get("survey")), ("Survey", 10))
    score = style.own(fields.get("score"), 5) or "?"
    agent = style.own(fields.get("agent"), NAME_LIMIT)
    text = f"{style.bold('Unhappy customer after a handoff:')} {name} {score}/{top}"
    text += f" (handled by {agent})." if agent else "."
    comment = style.untrusted(fields.get("comment"), style.body_limit)
    if comment:
        text += f" Their comment: {comment}"
    link = str(fields.get("link") or "")
    if not link:
        return text + " Please follow up."
    return f"{text} Please follow up — {style.link(link, 'open the conversation')}"
