"""The customer's latest return in agents' words, once for every desk; each desk supplies its Style.

Why: the Slack card and the local inbox show the same line ("HL-100982 · Hearthlink Hub ·
Label sent (opened 28 Oct 2026) · reason: doesn't work / damaged"), and the two copies of it
drifted once already. As in ``notices``, the words live here and a desk only says how to
make a value safe for its surface and how to write a date and the items.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.context import RETURN_NOT_CONFIRMED
from bot.handoff.desks.notices import Style
from bot.return_reasons import REASON_FOR_AGENTS

RETURN_NOTE_LIMIT = 300  # the customer's reason, redacted and shortened
NO_ITEMS = "items not chosen yet"


def _humanise(word: Any) -> str:
    """``label_sent`` -> ``Label sent``."""
    text = str(word or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def return_fact(
    ret: Any, style: Style, *, day: Callable[[Any], str], items: Callable[[Any], str]
) -> tuple[str, list[str]] | None:
    """(title, [order, items, state, reason]) of ``packet["latest_return"]``, or None without one.

    ``day`` writes a date (``5 Nov 2026``), ``items`` the returned lines with quantities; the
    reason note is the customer's words and goes through ``style.untrusted``.
    """
    if not isinstance(ret, Mapping) or not ret.get("order_number"):
        return None
    state = str(ret.get("state") or "unknown")
    if state == RETURN_NOT_CONFIRMED:
        title, status = "Return being set up", "not confirmed yet, nothing returned"
    else:
        title, status = "Latest return", style.own(_humanise(state), 40)
        if ret.get("created_on"):
            status += f" (opened {day(ret['created_on'])})"
    note = style.untrusted(" ".join(str(ret.get("reason_note") or "").split()), RETURN_NOTE_LIMIT)
    code = ret.get("reason")
    if note:
        reason = f"“{note}”"
    elif code:
        reason = style.own(REASON_FOR_AGENTS.get(str(code)) or _humanise(code), 60)
    else:
        reason = "not given yet"
    shown_items = items(ret.get("items")) if ret.get("items") else NO_ITEMS
    return title, [style.bold(style.own(ret["order_number"], 40)), shown_items, status, f"reason: {reason}"]
