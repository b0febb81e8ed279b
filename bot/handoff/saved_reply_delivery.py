"""Filling in and sending a saved reply for one handoff, the same for every desk (Slack, the inbox).

Why one place: a saved reply must reach the customer exactly like a typed one —
``Relay.on_agent_message`` claims the handoff if needed, refuses a resolved one and queues the
text once per message id — and the thread must then say what was sent (``Notice.SAVED_REPLY``).
The desks only decide who may ask (bot/handoff/desks/slack/saved_reply_listeners.py,
bot/handoff/desks/inbox/saved_replies.py) and where the answer is shown.
"""

from __future__ import annotations

from bot.business import load_business_settings
from bot.db import run_sync
from bot.handoff.desks.base import Notice
from bot.handoff.relay import Relay
from bot.handoff.saved_replies import Library, Rendered, fill_values, render
from bot.handoff.store import HandoffRecord

SENT = frozenset({"relayed", "duplicate"})  # on_agent_message outcomes after which the text is queued


async def fill(
    relay: Relay, library: Library, handoff: HandoffRecord, reply_id: str, order: str | None, agent_id: str
) -> Rendered | None:
    """The reply filled in for this handoff and agent; None for an id the library does not have."""
    reply = library.get(reply_id)
    if reply is None:
        return None
    values, why = fill_values(
        handoff.packet, library, order_number=order, agent_name=await relay.desk.agent_name(agent_id),
        business=load_business_settings(),
    )  # fmt: skip
    return render(reply, values, why)


async def send(
    relay: Relay, handoff: HandoffRecord, rendered: Rendered, agent_id: str, message_id: str
) -> str:
    """Send a filled-in reply as the agent; returns the relay's outcome ("relayed", "duplicate", …).

    ``message_id`` is unique per confirmed preview: sending it again (a double click, a retry)
    queues nothing new. The thread notice has its own key derived from it, so it is posted once too.
    """
    if rendered.text is None or handoff.card_ts is None:
        raise ValueError("only a reply with every value filled in, on a posted card, can be sent")
    outcome = await relay.on_agent_message(
        thread_ts=handoff.card_ts, message_ts=message_id, agent_id=agent_id, text=rendered.text
    )
    if outcome in SENT:
        fields = {
            "agent": await relay.desk.agent_name(agent_id),
            "title": rendered.reply.title,
            "text": rendered.text,
        }
        await run_sync(
            relay.store.post_notice, handoff.id, Notice.SAVED_REPLY, fields, dedupe_key=f"notice:{message_id}"
        )
    return outcome
