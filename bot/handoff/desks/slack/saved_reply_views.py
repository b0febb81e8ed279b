"""Block Kit for saved replies: the picker modal, the private preview, the list of matches.

Pure builders (ids in, dicts out) for bot/handoff/desks/slack/saved_reply_listeners.py. Every
value is escaped: the titles are the lead's, but a filled-in reply quotes the customer's name,
and the preview is mrkdwn, so ``<!channel>`` in a name must stay text (mrkdwn.quote escapes it).
The words here are for agents only; what the customer reads is the reply text in
saved_replies.yml.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.handoff.desks.slack.layout import BUTTON_TEXT_LIMIT, SECTION_TEXT_LIMIT, context, own, plain, section
from bot.handoff.desks.slack.mrkdwn import quote
from bot.handoff.saved_replies import Rendered, SavedReply, orders_of

# Ids shared with the listeners and the app manifest (tests/test_slack_manifest.py checks them).
SHORTCUT = "saved_reply"  # the message shortcut's callback_id
COMMAND = "/saved-reply"
PICK = "saved_reply_pick"  # the modal's callback_id
SEND = "saved_reply_send"
CANCEL = "saved_reply_cancel"
REPLY_BLOCK, REPLY_SELECT = "saved_reply", "saved_reply_select"
ORDER_BLOCK, ORDER_SELECT = "saved_reply_order", "saved_reply_order_select"
MAX_OPTIONS = 100  # a static_select's limit
OPTION_TEXT_LIMIT = 75
USAGE = (
    "To send one: on any message in a handoff's thread, open *⋯ More actions → Send a saved reply*, "
    f"or type `{COMMAND} <handoff number> <words>` here (the number is on each preview)."
)


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, OPTION_TEXT_LIMIT), "value": value}


def picker_modal(
    *,
    handoff_id: int,
    channel: str,
    replies: Sequence[SavedReply],
    packet: Mapping[str, Any],
    order_number: str | None,
) -> dict[str, Any]:
    """The modal the shortcut opens: pick a reply (the menu filters as one types) and the order.

    ``private_metadata`` says which handoff and channel it is for (Slack returns it unchanged;
    the submission is checked again as if it were new).
    """
    options = [_option(reply.title, reply.id) for reply in replies[:MAX_OPTIONS]]
    blocks: list[dict[str, Any]] = [
        {
            "type": "input",
            "block_id": REPLY_BLOCK,
            "label": plain("Saved reply", 50),
            "element": {
                "type": "static_select",
                "action_id": REPLY_SELECT,
                "placeholder": plain("Type to search…", 50),
                "options": options,
            },
        },
    ]
    orders = [str(order["number"]) for order in orders_of(packet)][:MAX_OPTIONS]
    if orders:
        element: dict[str, Any] = {
            "type": "static_select",
            "action_id": ORDER_SELECT,
            "placeholder": plain("The conversation's order", 50),
            "options": [_option(number, number) for number in orders],
        }
        if order_number in orders:
            element["initial_option"] = _option(str(order_number), str(order_number))
        blocks.append(
            {
                "type": "input",
                "block_id": ORDER_BLOCK,
                "optional": True,
                "label": plain("Order", 50),
                "element": element,
            }
        )
    blocks.append(context("You'll see the filled-in reply before anything is sent to the customer."))
    return {
        "type": "modal",
        "callback_id": PICK,
        "title": plain("Send a saved reply", 24),
        "submit": plain("Preview", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps({"handoff": handoff_id, "channel": channel}),
        "blocks": blocks,
    }


def picked(view: Mapping[str, Any]) -> tuple[str, str | None]:
    """(reply id, order number or None) chosen in a submitted :func:`picker_modal`."""
    values = (view.get("state") or {}).get("values") or {}

    def selected(block: str, action: str) -> str | None:
        option = ((values.get(block) or {}).get(action) or {}).get("selected_option") or {}
        return str(option["value"]) if option.get("value") else None

    return selected(REPLY_BLOCK, REPLY_SELECT) or "", selected(ORDER_BLOCK, ORDER_SELECT)


def preview_blocks(
    rendered: Rendered, handoff_id: int, token: str, others: Sequence[SavedReply] = ()
) -> list[Any]:
    """Only the agent sees this: the filled-in text, and Send / Cancel (``token`` rides on both)."""
    title = own(rendered.reply.title, 150)
    if rendered.text is None:
        return problem_blocks(rendered, handoff_id)
    blocks: list[dict[str, Any]] = [
        section(f":bookmark_tabs: *Preview of “{title}”* (handoff {handoff_id}) — only you can see this:"),
        section(quote(rendered.text, SECTION_TEXT_LIMIT)),
        {
            "type": "actions",
            "block_id": "saved_reply_preview",
            "elements": [
                {
                    "type": "button",
                    "action_id": SEND,
                    "text": plain("Send to the customer", BUTTON_TEXT_LIMIT),
                    "style": "primary",
                    "value": token,
                },
                {
                    "type": "button",
                    "action_id": CANCEL,
                    "text": plain("Cancel", BUTTON_TEXT_LIMIT),
                    "value": token,
                },
            ],
        },
    ]
    if others:
        names = ", ".join(f"`{own(reply.id, 40)}`" for reply in others[:5])
        blocks.append(context(f"Other matches: {names}"))
    return blocks


def problem_blocks(rendered: Rendered, handoff_id: int) -> list[Any]:
    """The reply cannot be sent for this customer: which values are missing, and nothing to click."""
    lines = "\n".join(f"• {own(problem, 300)}" for problem in rendered.problems)
    title = own(rendered.reply.title, 150)
    return [
        section(f":warning: *“{title}” can't be sent for handoff {handoff_id}* — nothing was sent:\n{lines}"),
        context("Write the reply yourself in the thread, or pick another order or reply."),
    ]


def matches_text(replies: Sequence[SavedReply], query: str) -> str:
    """The ephemeral answer to a slash command without a handoff: the matches and how to send one."""
    if not replies:
        head = f"No saved reply matches “{own(query, 100)}”." if query else "There are no saved replies yet."
    else:
        found = "\n".join(f"• `{own(reply.id, 40)}` {own(reply.title, 80)}" for reply in replies[:10])
        head = f"Saved replies{f' for “{own(query, 100)}”' if query else ''}:\n{found}"
    return f"{head}\n{USAGE}"


def note_text(text: str) -> str:
    """A short ephemeral answer in the agent's thread (our own words, escaped anyway)."""
    return own(text, SECTION_TEXT_LIMIT)
