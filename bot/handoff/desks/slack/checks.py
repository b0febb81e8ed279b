"""The checks every Slack listener of a handoff runs: is it our card, is this an agent, the owner?

Why a module: the card's buttons, the transfer modal, the App Home and saved replies all act on a
handoff; each asks the same questions in the same order (bot/handoff/desks/slack/access.py), so
a new listener cannot forget one. Refusals are logged (ids only, never text) and told to the
person where only they see it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.db import run_sync
from bot.handoff.desks.slack.access import FOREIGN_CHANNEL, Origin, Refusal, SlackAccess, origin

if TYPE_CHECKING:
    from bot.handoff.relay import Relay
    from bot.handoff.store import HandoffRecord

logger = logging.getLogger("bot.handoff.slack_app")


def log_refusal(where: Origin, refusal: Refusal) -> None:
    """One line per refused request: who, where and why, never what they wrote."""
    logger.warning(
        "slack: refused %s from user %s (team %s, user's team %s) in channel %s: %s",
        where.kind, where.user, ",".join(sorted(where.teams)) or "-",
        ",".join(sorted(where.user_teams)) or "-", where.channel, refusal.reason,
    )  # fmt: skip


def on_card(handoff: HandoffRecord, where: Origin, message_ts: str | None = None) -> Refusal | None:
    """The request comes from the handoff's own card (its channel and, for a click, its message)."""
    if handoff.desk_channel and where.channel != handoff.desk_channel:
        return Refusal(FOREIGN_CHANNEL)
    if message_ts is not None and handoff.card_ts and message_ts != handoff.card_ts:
        return Refusal(FOREIGN_CHANNEL)
    return None


async def refuse(
    access: SlackAccess, refusal: Refusal | None, where: Origin, thread_ts: str | None = None
) -> bool:
    """Log and tell a refusal; True if there was one (the listener then stops)."""
    if refusal is None:
        return False
    log_refusal(where, refusal)
    await access.tell(refusal, where, thread_ts)
    return True


async def allowed_click(
    relay: Relay,
    access: SlackAccess,
    body: dict[str, Any],
    value: Any,
    verb: str | None,
    *,
    card: bool = True,
) -> HandoffRecord | None:
    """The handoff a click (or a modal's submit) may act on; refusals are logged and told here.

    ``value`` is our handoff id as the button or modal carries it; ``card``: the click must come
    from the handoff's own card message. ``verb`` (claim, resolve, transfer…): on a claimed
    handoff only its owner or a lead may (None: any agent, e.g. reading the transcript).
    """
    where = origin(body)
    try:
        handoff_id = int(str(value or ""))
    except ValueError:  # only a forged click carries anything but our card's handoff id
        logger.info("slack: %s with a malformed handoff id ignored", where.kind)
        return None
    handoff = await run_sync(relay.store.get, handoff_id)
    if handoff is None:
        logger.info("slack: %s on unknown handoff %s ignored", where.kind, handoff_id)
        return None
    message_ts = str((body.get("container") or {}).get("message_ts") or "")
    refusal = (on_card(handoff, where, message_ts) if card else None) or await access.check_agent(where)
    if refusal is None and verb is not None:
        refusal = await access.check_owner(handoff, str(where.user), verb)
    return None if await refuse(access, refusal, where) else handoff
