"""Transfer, assign and hand back from the card: the "Transfer / assign…" modal and its listeners.

Why a modal and not more buttons: a move needs a choice (which team, which agent) and, often,
a note for whoever picks it up ("customer already tried a reset"). Slack's modal gives the
team list (business.yml ``routing:`` teams), a user picker and a note box in one step, and
its submit arrives with the handoff id we put in ``private_metadata`` — never a value the
person could type. Every step asks the same checks as the card's buttons (``checks.py``):
an agent, and on a claimed handoff its owner or a lead; the assignee must be an agent too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.handoff.desks.slack.access import Origin, SlackAccess, origin
from bot.handoff.desks.slack.card import HAND_BACK, TRANSFER
from bot.handoff.desks.slack.checks import allowed_click, log_refusal
from bot.handoff.desks.slack.layout import plain
from bot.handoff.relay import Relay
from bot.handoff.routing import Team, load_routing_settings
from bot.handoff.store import HandoffRecord

logger = logging.getLogger(__name__)

MODAL = "handoff_transfer_modal"
TEAM_BLOCK, TEAM_ACTION = "transfer_team", "team"
AGENT_BLOCK, AGENT_ACTION = "transfer_agent", "agent"
NOTE_BLOCK, NOTE_ACTION = "transfer_note", "note"
NOTE_MAX = 500
MAX_OPTIONS = 100  # Slack's limit for a static_select
CHOOSE_ONE = "Choose a team or an agent (or both: the agent then gets it in the new team)."
NOT_AN_AGENT = "This person is not one of the support agents, so the handoff cannot be assigned to them."


def _input(block_id: str, label: str, element: dict[str, Any]) -> dict[str, Any]:
    return {"type": "input", "block_id": block_id, "optional": True, "label": plain(label, 150),
            "element": element}  # fmt: skip


def transfer_modal(handoff: HandoffRecord, teams: Mapping[str, Team]) -> dict[str, Any]:
    """The modal: another team (if routing has teams), a named agent, a note that travels with it."""
    blocks = []
    others = [name for name in teams if name != handoff.team][:MAX_OPTIONS]
    if others:
        options = [{"text": plain(name, 75), "value": name} for name in others]
        blocks.append(_input(TEAM_BLOCK, "Transfer to team", {
            "type": "static_select", "action_id": TEAM_ACTION, "options": options,
            "placeholder": plain("Choose a team", 150),
        }))  # fmt: skip
    blocks.append(_input(AGENT_BLOCK, "Assign to agent", {
        "type": "users_select", "action_id": AGENT_ACTION, "placeholder": plain("Choose an agent", 150),
    }))  # fmt: skip
    blocks.append(_input(NOTE_BLOCK, "Note for whoever picks it up (not sent to the customer)", {
        "type": "plain_text_input", "action_id": NOTE_ACTION, "multiline": True, "max_length": NOTE_MAX,
    }))  # fmt: skip
    return {
        "type": "modal",
        "callback_id": MODAL,
        "private_metadata": str(handoff.id),
        "title": plain("Transfer or assign", 24),
        "submit": plain("Move it", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def submitted(view: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(team, agent user id, note) from the modal's submitted state."""
    values = (view.get("state") or {}).get("values") or {}
    team = ((values.get(TEAM_BLOCK) or {}).get(TEAM_ACTION) or {}).get("selected_option") or {}
    agent = ((values.get(AGENT_BLOCK) or {}).get(AGENT_ACTION) or {}).get("selected_user")
    note = ((values.get(NOTE_BLOCK) or {}).get(NOTE_ACTION) or {}).get("value")
    return (team.get("value") or None), (str(agent) if agent else None), (str(note) if note else None)


def register_transfer(app: AsyncApp, relay: Relay, access: SlackAccess, client: AsyncWebClient) -> None:
    """The card's "Transfer / assign…" and "Hand back to queue" buttons, and the modal's submit."""

    @app.action(TRANSFER)
    async def on_transfer(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        handoff = await allowed_click(relay, access, body, action.get("value"), "transfer")
        if handoff is not None:
            view = transfer_modal(handoff, load_routing_settings().teams)
            await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(HAND_BACK)
    async def on_hand_back(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        handoff = await allowed_click(relay, access, body, action.get("value"), "hand back")
        if handoff is not None:
            await relay.hand_back(handoff.id)

    @app.view(MODAL)
    async def on_submit(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        team, agent, note = submitted(view)
        if team is None and agent is None:
            await ack(response_action="errors", errors={AGENT_BLOCK: CHOOSE_ONE})
            return
        if agent is not None and await _not_an_agent(access, body, agent):
            await ack(response_action="errors", errors={AGENT_BLOCK: NOT_AN_AGENT})
            return
        await ack()
        handoff = await allowed_click(
            relay, access, body, view.get("private_metadata"), "transfer", card=False
        )
        if handoff is None:
            return
        user = str(body["user"]["id"])
        if team is not None:
            moved = await relay.transfer(handoff.id, team, user, note)
            logger.info("handoff %s: transfer to %s by %s: %s", handoff.id, team, user, bool(moved))
            note = None  # said once, on the transfer
        if agent is not None:
            assigned = await relay.assign(handoff.id, agent, user, note)
            logger.info("handoff %s: assigned to %s by %s: %s", handoff.id, agent, user, bool(assigned))


async def _not_an_agent(access: SlackAccess, body: dict[str, Any], agent: str) -> bool:
    """Whether the chosen assignee fails the agent check (a guest, a bot, outside the agent group)."""
    where = origin(body)
    candidate = Origin(kind="assignee", teams=where.teams, user_teams=frozenset(), channel=None, user=agent)
    refusal = await access.check_agent(candidate)
    if refusal is not None:
        log_refusal(candidate, refusal)
    return refusal is not None
