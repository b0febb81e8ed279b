"""The App Home tab's queue view: open handoffs of the agent's teams, as a Block Kit ``home`` view.

Pure (records, SLA statuses, the viewer and the time in; the view's JSON out), so what an agent
sees is tested without Slack (tests/test_slack_home_view.py) and the publisher
(bot/handoff/desks/slack/home.py) only has to compare hashes. Why the texts are rounded to
whole minutes: the publisher sends a view only when its JSON changed, so a view that said
seconds would be re-sent on every round; in minutes it changes at most once a minute.

What a customer wrote (their name, the reason) is untrusted: redacted, escaped and cut by
``layout.clean`` and then made inert (:func:`inert`), so it can neither mention anyone, link
anywhere nor restyle the view. Our own data (team names, agent names) goes through ``own``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.handoff.desks import labels
from bot.handoff.desks.slack.history import thread_link
from bot.handoff.desks.slack.layout import (
    BUTTON_TEXT_LIMIT,
    CONFIRM_TEXT_LIMIT,
    HEADER_TEXT_LIMIT,
    MAX_MODAL_BLOCKS,
    clean,
    context,
    own,
    plain,
    section,
)
from bot.handoff.desks.slack.people import NAME_LIMIT
from bot.handoff.states import ACTIVE, HandoffStatus
from bot.handoff.store import HandoffRecord

# Action ids of the Home tab's buttons (bot/handoff/desks/slack/home.py listens to them); a
# Claim button's value is the handoff id. Not the card's ``handoff_claim``: that listener only
# accepts clicks from the card message itself.
HOME_CLAIM = "home_claim"
HOME_OPEN_THREAD = "home_open_thread"

MAX_HOME_BLOCKS = MAX_MODAL_BLOCKS  # Slack: 100 blocks in a Home tab view, as in a modal
REASON_LIMIT = 200

LEVEL_EMOJI = {
    "missed": ":red_circle:",
    "soon": ":large_yellow_circle:",
    "ok": ":large_green_circle:",
    "none": ":white_circle:",
}
LEVEL_RANK = {"missed": 0, "soon": 1, "ok": 2, "none": 3}
TARGET_NAMES = {"first_reply": "First reply", "resolution": "Resolution"}

# Slack mrkdwn's styling characters, as look-alikes that style nothing (customer text only).
_INERT = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})


class SlaLike(Protocol):
    """What the view reads of ``bot.handoff.sla.SlaStatus``."""

    target: str | None
    minutes_left: float | None
    level: str


@dataclass(frozen=True)
class QueueItem:
    handoff: HandoffRecord
    sla: SlaLike | None = None


@dataclass(frozen=True)
class Viewer:
    """Who looks at the tab, as bot/handoff/desks/slack/home.py found out from Slack.

    ``hidden_teams``: teams whose queue is not theirs (an agent in one team's user group does
    not see the teams of other groups); empty for leads and agents in no team's group.
    ``scope``: plain words for the header line ("All teams", "Your teams: billing").
    ``note``: our own mrkdwn shown on top once (why a click was refused), never customer text.
    """

    user_id: str
    agent: bool = True
    lead: bool = False
    hidden_teams: frozenset[str] = field(default_factory=frozenset)
    scope: str = "All teams"
    note: str | None = None


def inert(escaped: str) -> str:
    """Escaped customer text with mrkdwn's ``*_~``` replaced by look-alikes that style nothing."""
    return escaped.translate(_INERT)


def visible(handoff: HandoffRecord, viewer: Viewer) -> bool:
    """Open (waiting or claimed) and of one of the viewer's teams (a handoff with no team is everyone's)."""
    if not viewer.agent or handoff.status not in ACTIVE:
        return False
    return handoff.team is None or handoff.team not in viewer.hidden_teams


def minutes_text(minutes: float) -> str:
    """``7 min``, ``2 h 05 min``, ``3 d 4 h``: whole minutes, so the text changes once a minute."""
    whole = max(0, math.floor(minutes))
    if whole < 60:
        return f"{whole} min"
    hours, rest = divmod(whole, 60)
    if hours < 24:
        return f"{hours} h {rest:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def waited_minutes(handoff: HandoffRecord, now: datetime) -> float:
    """Minutes since it last joined its team's queue (opened, transferred, handed back)."""
    since = handoff.queued_at or handoff.created_at
    return (now - since).total_seconds() / 60


def sla_text(sla: SlaLike | None) -> str:
    """``:large_yellow_circle: First reply due in 4 min`` / ``:red_circle: Resolution missed by 12 min``."""
    if sla is None or sla.level == "none" or sla.target is None or sla.minutes_left is None:
        return f"{LEVEL_EMOJI['none']} No SLA target"
    name = TARGET_NAMES.get(sla.target, own(sla.target, 30))
    emoji = LEVEL_EMOJI.get(sla.level, LEVEL_EMOJI["none"])
    if sla.level == "missed" or sla.minutes_left < 0:
        return f"{emoji} {name} missed by {minutes_text(math.ceil(abs(sla.minutes_left)))}"
    return f"{emoji} {name} due in {minutes_text(sla.minutes_left)}"


def urgency(item: QueueItem, now: datetime) -> tuple[int, float, float]:
    """Sort key: missed, then soon, then ok, then no target; least time left first; longest wait first."""
    sla = item.sla
    level = sla.level if sla is not None else "none"
    left = sla.minutes_left if sla is not None and sla.minutes_left is not None else math.inf
    return LEVEL_RANK.get(level, LEVEL_RANK["none"]), left, -waited_minutes(item.handoff, now)


def _customer(handoff: HandoffRecord) -> str:
    customer = handoff.packet.get("customer") if isinstance(handoff.packet, dict) else None
    name = clean(customer.get("name"), NAME_LIMIT) if isinstance(customer, dict) else ""
    return inert(name) if name else "New customer"


def _status_line(item: QueueItem, now: datetime) -> str:
    handoff = item.handoff
    waited = minutes_text(waited_minutes(handoff, now))
    if handoff.status is HandoffStatus.CLAIMED:
        by = own(handoff.claimed_by_name or "an agent", NAME_LIMIT)
        open_for = minutes_text((now - handoff.created_at).total_seconds() / 60)
        line = f":technologist: Claimed by *{by}* · open {open_for}"
    else:
        line = f":hourglass_flowing_sand: *Waiting* {waited}"
    return f"{line} · {sla_text(item.sla)}"


def _buttons(handoff: HandoffRecord, viewer: Viewer) -> list[dict[str, Any]]:
    buttons: list[dict[str, Any]] = []
    value = str(handoff.id)
    if handoff.status is HandoffStatus.WAITING:
        buttons.append({"type": "button", "action_id": HOME_CLAIM, "value": value, "style": "primary",
                        "text": plain("Claim", BUTTON_TEXT_LIMIT)})  # fmt: skip
    elif viewer.lead and handoff.claimed_by != viewer.user_id:
        owner = own(handoff.claimed_by_name or "another agent", NAME_LIMIT)
        confirm = {
            "title": plain("Take over?", 100),
            "text": plain(f"{owner} has this handoff. Take it over from them?", CONFIRM_TEXT_LIMIT),
            "confirm": plain("Take over", 30),
            "deny": plain("Cancel", 30),
        }
        buttons.append({"type": "button", "action_id": HOME_CLAIM, "value": value, "confirm": confirm,
                        "text": plain("Take over", BUTTON_TEXT_LIMIT)})  # fmt: skip
    link = thread_link(handoff.desk_channel, handoff.card_ts)
    if link:
        buttons.append({"type": "button", "action_id": HOME_OPEN_THREAD, "value": value, "url": link,
                        "text": plain("Open thread", BUTTON_TEXT_LIMIT)})  # fmt: skip
    return buttons


def item_blocks(item: QueueItem, viewer: Viewer, now: datetime) -> list[dict[str, Any]]:
    """One handoff: who and why, its state and SLA, its buttons, a divider."""
    handoff = item.handoff
    where = [own(labels.channel_label(handoff.channel), 60)]
    if handoff.team:
        where.append(f"team *{own(handoff.team, 80)}*")
    reason = inert(clean(" ".join(str(handoff.reason or "").split()), REASON_LIMIT)) or "_no reason given_"
    blocks = [
        section(f"*{_customer(handoff)}* · {' · '.join(where)}\n{reason}"),
        context(_status_line(item, now)),
    ]
    buttons = _buttons(handoff, viewer)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"home_{handoff.id}", "elements": buttons})
    return [*blocks, {"type": "divider"}]


def not_an_agent_view() -> dict[str, Any]:
    """For someone who may not work handoffs: nothing about any customer."""
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": plain("Support queue", HEADER_TEXT_LIMIT)},
            section(
                ":no_entry: This queue is for support agents only. If you should be working "
                "handoffs, ask a lead to add you to the agents' user group."
            ),
        ],
    }


def home_view(items: Sequence[QueueItem], viewer: Viewer, now: datetime) -> dict[str, Any]:
    """The viewer's Home tab: their queue by urgency, within Slack's 100 blocks ("…and N more")."""
    if not viewer.agent:
        return not_an_agent_view()
    queue = sorted((i for i in items if visible(i.handoff, viewer)), key=lambda i: urgency(i, now))
    waiting = sum(1 for i in queue if i.handoff.status is HandoffStatus.WAITING)
    summary = (
        f"{own(viewer.scope, 300)} · {len(queue)} open · {waiting} waiting · {len(queue) - waiting} claimed"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain("Support queue", HEADER_TEXT_LIMIT)},
        context(summary),
    ]
    if viewer.note:
        blocks.append(context(viewer.note))
    if not queue:
        blocks.append(section(":sparkles: No open handoffs in your queue right now."))
        return {"type": "home", "blocks": blocks}
    room = MAX_HOME_BLOCKS - 1  # one left for "…and N more"
    for shown, item in enumerate(queue):
        more = item_blocks(item, viewer, now)
        last = shown == len(queue) - 1
        if len(blocks) + len(more) > (MAX_HOME_BLOCKS if last else room):
            blocks.append(context(f"_…and {len(queue) - shown} more open handoffs, not shown here_"))
            break
        blocks += more
    return {"type": "home", "blocks": blocks}


def view_hash(view: dict[str, Any]) -> str:
    """What the publisher compares: the same view is never sent twice."""
    return hashlib.sha256(json.dumps(view, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
