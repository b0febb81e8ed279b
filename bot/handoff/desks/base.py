"""What the relay tells a desk, in terms of what happened — never in a desk's own format.

Why: the relay used to render Slack Block Kit and hand it to whichever desk was configured,
so the local inbox stored Slack mrkdwn and showed ``&lt;`` to agents. Now the relay says
"show this handoff's card for this packet and state", "post this customer message",
"tell the agent this" and each desk renders its own format (``desks/slack``: Block Kit and
mrkdwn; ``desks/inbox``: plain text). Adding a desk means implementing :class:`Desk`.

Every desk must redact customer text (``bot.redact``) before it stores or shows it; the
outbox carries the raw text so each desk can render it for its own surface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from bot.handoff.states import HandoffStatus, lookup, parse


class Notice(str, Enum):
    """The short notices a desk posts in a handoff's thread; every desk renders all of them.

    Fields each takes (all optional): ``CLAIMED``/``RESOLVED``: ``agent``;
    ``DELIVERY_FAILED``: ``error``; ``HOW_TO``/``NOTES_HINT``: ``prefix`` (default ``//``);
    ``FOLLOWUP``: ``text``; ``TIMED_OUT``: ``minutes`` or ``note``; ``AFTER_HOURS``: ``note``;
    ``GAVE_UP``: ``what`` (an outbox kind) and ``error``; ``SURVEY_FOLLOWUP``: ``survey`` (csat, nps,
    ces), ``score``, ``agent``, ``comment`` and ``link`` (where the conversation is).
    ``TRANSFERRED_OUT``: ``team`` (where it went), ``agent`` (who moved it), ``note``, ``link`` (the
    new card); ``TRANSFERRED_IN``: ``from_team``, ``agent``, ``note``, ``summary``, ``link`` (the old
    card); ``ASSIGNED``: ``agent`` (the assignee), ``by``, ``note``; ``TAKEN_OVER``: ``agent``,
    ``previous``; ``HANDED_BACK``: ``agent``; ``SLA_REMINDER``: ``target`` ("first_reply" or
    "resolution"), ``minutes_left`` (negative: missed by), ``group`` (a Slack user group id to
    mention: the one place the bot notifies people); ``STILL_LOOKING``: ``agent``, ``minutes``;
    ``SAVED_REPLY``: ``agent``, ``title``, ``text`` (what the customer was sent).
    ``error``, ``note``, ``text``, ``summary`` and ``comment`` can quote the customer and are
    redacted by the desk.
    """

    CLAIMED = "claimed"
    RESOLVED = "resolved"
    DELIVERY_FAILED = "delivery_failed"  # an agent's reply could not be delivered to the customer
    HOW_TO = "how_to"  # replies go to the customer, internal notes start with the prefix
    NOTES_HINT = "notes_hint"
    FOLLOWUP = "followup"  # the message a customer left after nobody claimed the handoff
    NOT_SENT_RESOLVED = "not_sent_resolved"  # an agent replied after resolving; it was not sent
    TIMED_OUT = "timed_out"
    AFTER_HOURS = "after_hours"
    GAVE_UP = "gave_up"  # a delivery became a dead letter (bot/outbox.py): nothing more is tried for it
    SURVEY_FOLLOWUP = "survey_followup"  # an unhappy survey answer after this handoff (bot/surveys/)
    TRANSFERRED_OUT = "transferred_out"  # on the old card's thread: it went to another team
    TRANSFERRED_IN = "transferred_in"  # on the new card's thread: where it came from, and the story so far
    ASSIGNED = "assigned"  # a named agent was given it
    TAKEN_OVER = "taken_over"  # a lead took over someone else's handoff
    HANDED_BACK = "handed_back"  # the owner went off shift: back to the team's queue
    SLA_REMINDER = "sla_reminder"  # a first-reply or resolution target is about to be (or was) missed
    STILL_LOOKING = "still_looking"  # no agent reply for a while: the customer was told honestly
    SAVED_REPLY = "saved_reply"  # an agent sent a saved reply (bot/handoff/saved_replies.py)

    def __str__(self) -> str:
        return self.value

    def __hash__(self) -> int:
        return str.__hash__(self)


def notice_kind(kind: str) -> Notice:
    """The notice for a name from the outbox; an unknown one fails loudly, never posts a wrong notice."""
    return lookup(Notice, kind, "status kind")


@dataclass(frozen=True)
class CardState:
    """Where a handoff stands; a desk's card is a pure function of the packet and this."""

    handoff_id: int
    status: HandoffStatus
    claimed_by: str | None = None  # agent display name
    resolved_by: str | None = None
    note: str | None = None  # e.g. "No one claimed it in time — the assistant offered to take a message."
    # Where business.yml ``routing:`` sent it (bot/handoff/routing.py); None without routing.
    team: str | None = None
    routing_why: str | None = None  # "rule 'billing': intent billing_dispute"
    notify_group: str | None = None  # a Slack user group id, mentioned on the new card only
    moved_to: str | None = None  # an old card after a transfer: the team it went to (no buttons left)

    def __post_init__(self) -> None:
        # A typo'd status would silently show the wrong buttons to every agent.
        object.__setattr__(self, "status", parse(self.status))


@dataclass(frozen=True)
class CardRef:
    """Where a desk put a handoff's card: its channel and the card's id (the thread to reply in)."""

    channel: str
    ts: str


# Desk-neutral notes under the status line; each desk decorates them its own way.
_STATUS_NOTES = {
    HandoffStatus.TIMED_OUT: "No one claimed it in time — the assistant offered to take a message.",
    HandoffStatus.AFTER_HOURS: "Opened outside business hours — the assistant offered to take a message.",
}
_FOLLOWUP_NOTE = "The customer left a message (see thread)."


class HandoffView(Protocol):
    """The fields of a handoff record a card needs (``bot.handoff.store.HandoffRecord`` has them)."""

    id: int
    status: str
    claimed_by_name: str | None
    resolved_by_name: str | None
    followup_message: str | None


def card_state(handoff: HandoffView) -> CardState:
    """How a desk shows this handoff now (rendered again on every change)."""
    current = parse(handoff.status)
    notes = [_STATUS_NOTES[current]] if current in _STATUS_NOTES else []
    if handoff.followup_message:
        notes.append(_FOLLOWUP_NOTE)
    return CardState(
        handoff_id=handoff.id,
        status=current,
        claimed_by=handoff.claimed_by_name,
        resolved_by=handoff.resolved_by_name,
        note=" ".join(notes) or None,
        team=getattr(handoff, "team", None),
        routing_why=getattr(handoff, "routing_why", None),
        notify_group=getattr(handoff, "notify_group", None),
    )


class Desk(Protocol):
    """An agent workspace. The relay's outbox calls these; a failure raises ``RetryLater``.

    Every post takes the outbox item's ``key`` and stores it with the post (Slack: message
    metadata; the inbox: a unique column), so that after a crash :meth:`find_delivery` can
    tell whether the post already happened: posts are never duplicated by a retry.
    """

    name: str  # shown by /health: "slack" or "local"

    async def show_card(
        self,
        packet: Mapping[str, Any],
        state: CardState,
        card: CardRef | None,
        *,
        key: str | None = None,
        channel: str | None = None,
    ) -> CardRef:
        """Post the handoff's card (``card`` is None) or update it in place; returns where it is.

        ``channel``: where a new card goes (the routed team's, ``HandoffRecord.desk_channel``);
        None: the desk's handoff channel. Desks with one place for cards ignore it.
        """
        ...

    async def post_customer_message(self, card: CardRef, text: str, *, key: str | None = None) -> None:
        """Relay what the customer wrote after the handoff into the card's thread."""
        ...

    async def post_notice(
        self, card: CardRef, kind: Notice, *, key: str | None = None, **fields: Any
    ) -> None:
        """Tell the agents something about the handoff, in the card's thread."""
        ...

    async def find_delivery(
        self, key: str, card: CardRef | None, *, channel: str | None = None
    ) -> CardRef | None:
        """The post carrying ``key`` in ``card``'s thread (``card`` None: a top-level post in
        ``channel``, by default the desk's handoff channel: a card), or None."""
        ...

    async def post_survey_followup(
        self, card: CardRef, *, destination: str | None, key: str | None = None, **fields: Any
    ) -> CardRef:
        """Ask someone to follow up an unhappy survey answer (``Notice.SURVEY_FOLLOWUP`` fields).

        ``destination``: a channel of the desk's own (Slack: a channel id) for such posts, with
        a link to the handoff's thread; None: in the handoff's own thread. Returns the post.
        """
        ...

    async def permalink(self, card: CardRef) -> str:
        """A link agents can open to the card's thread (a transfer links the old and new cards)."""
        ...

    def transcript(self, packet: Mapping[str, Any], lines: Sequence[Mapping[str, Any]] | None = None) -> Any:
        """The full conversation in the desk's format (``lines`` overrides the packet's)."""
        ...

    async def agent_name(self, user_id: str) -> str:
        """The agent's name as customers should see it."""
        ...
