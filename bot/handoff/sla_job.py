"""The worker's SLA job: reminders in the thread before a target is missed, and honest updates to customers.

Two checks run every :data:`CHECK_EVERY_SECONDS` next to the claim-timeout check
(bot/handoff/server.py ``background()``):

- **SLA reminders.** An open handoff (waiting or claimed) of a team with targets
  (business.yml ``routing.teams.<team>``) whose target is "soon" or already missed
  (bot/handoff/sla.py) gets ONE reminder per target in its thread (``Notice.SLA_REMINDER``);
  the team's ``notify_group`` is mentioned on it. That group comes from business.yml only
  (and must look like a Slack group id, ``routing.GROUP_ID``), never from the handoff's row or
  anything a customer wrote: this is the one place the bot itself notifies people.
- **Keeping the customer informed.** A claimed handoff whose agent has not replied for
  ``handoff.still_looking_after_minutes`` business minutes (since the claim, the agent's last
  reply or the last such update, whichever is latest) tells the customer so
  (``utter_agent_still_looking``) and notes it in the thread (``Notice.STILL_LOOKING``) —
  only while the agent owes an answer (no reply yet, or the customer wrote after it).

Both only act within business hours: nobody's phone buzzes at night for a target that is
not counting, and a customer is not told "Alex is still looking" while Alex is off shift.
Each marks the handoff row (``first_reply_warned_at`` / ``resolution_warned_at`` /
``customer_updated_at``) in the same transaction as the outbox items it queues, and every
item has a dedupe key, so a crash or two workers running the job at once never posts twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.business import HandoffSettings
from bot.db import run_sync
from bot.handoff.desks.base import Notice
from bot.handoff.models import Handoff
from bot.handoff.routing import GROUP_ID, RoutingSettings, Team, load_routing_settings
from bot.handoff.sla import Target, business_minutes, in_business_hours, sla_status
from bot.handoff.states import ACTIVE, HandoffStatus
from bot.handoff.store import (
    DEMO_SENDER_PREFIX,
    POST_THREAD,
    SAY_TO_CUSTOMER,
    HandoffStore,
    customer_queue,
    desk_queue,
)
from bot.handoff.waiting_ack import customer_language
from bot.outbox import OutboxItem, enqueue, utcnow
from bot.responses import render

logger = logging.getLogger(__name__)

# Targets are minutes; half a minute late is close enough and costs one small query.
CHECK_EVERY_SECONDS = 30.0
# The row column that says a target's reminder was posted.
WARNED_COLUMN = {"first_reply": "first_reply_warned_at", "resolution": "resolution_warned_at"}


@dataclass(frozen=True)
class Reminder:
    """An SLA reminder queued for a handoff's thread."""

    handoff_id: int
    target: Target
    minutes_left: float
    group: str | None


@dataclass(frozen=True)
class CustomerUpdate:
    """A "still looking into it" queued for a customer (and noted in the thread)."""

    handoff_id: int
    agent_name: str
    minutes: float


def safe_group(team: Team) -> str | None:
    """The team's user group to mention, only if it is one business.yml gave in a Slack group id's shape."""
    group = team.notify_group or ""
    return group if GROUP_ID.fullmatch(group) else None


def _not_demo() -> object:
    # Demo handoffs (python -m bot demo-month) have no customer and no real card (see store.py).
    return Handoff.conversation_id.notlike(f"{DEMO_SENDER_PREFIX}%")


# --------------------------------------------------------------------------- SLA reminders


def remind(
    store: HandoffStore, routing: RoutingSettings, settings: HandoffSettings, now: datetime | None = None
) -> list[Reminder]:
    """Queue the reminders that are due now (at most one per handoff and target, ever)."""
    now = now or utcnow()
    hours = settings.business_hours
    if not routing.teams or not in_business_hours(now, hours):
        return []
    with store.db.session() as session:
        candidates = session.execute(
            select(Handoff.id, Handoff.team).where(
                Handoff.status.in_(ACTIVE),
                Handoff.team.in_(list(routing.teams)),
                or_(Handoff.first_reply_warned_at.is_(None), Handoff.resolution_warned_at.is_(None)),
                _not_demo(),
            )
        ).all()
    reminders = []
    for handoff_id, team_name in candidates:
        team = routing.teams[team_name]
        if team.first_reply_minutes or team.resolution_minutes:
            reminder = _remind_one(store, handoff_id, team, settings, now)
            if reminder is not None:
                reminders.append(reminder)
    return reminders


def _remind_one(
    store: HandoffStore, handoff_id: int, team: Team, settings: HandoffSettings, now: datetime
) -> Reminder | None:
    """One transaction: decide again on the locked row, mark it warned and queue the reminder."""
    with store.db.session() as session:
        row = session.get(Handoff, handoff_id, with_for_update=True)
        if row is None or row.team != team.name:
            return None
        status = sla_status(row, team, now, settings.business_hours)
        if status.target is None or status.level not in ("soon", "missed"):
            return None
        column = WARNED_COLUMN[status.target]
        if getattr(row, column) is not None:
            return None
        setattr(row, column, now)
        group = safe_group(team)
        minutes_left = round(status.minutes_left or 0.0, 1)
        # A transfer (bot/handoff/moves.py) clears the marks and sets queued_at: the new team's
        # reminder is a new item; two workers deciding at once share the key and post once.
        queued = row.queued_at.isoformat() if row.queued_at else ""
        if not enqueue(
            session, desk_queue(row.id), POST_THREAD,
            {"handoff_id": row.id, "kind": "notice", "notice": str(Notice.SLA_REMINDER),
             "fields": {"target": status.target, "minutes_left": minutes_left, "group": group}},
            dedupe_key=f"sla:{status.target}:{row.id}:{queued}",
        ):  # fmt: skip
            return None
    logger.info(
        "handoff %s: %s target %s (%.1f min left)", handoff_id, status.target, status.level, minutes_left
    )
    return Reminder(handoff_id, status.target, minutes_left, group)


# --------------------------------------------------------------------------- keeping the customer informed


def _quiet_since(row: Handoff) -> datetime | None:
    """Since when the customer has heard nothing from the agent: the claim, their last reply or our update.

    ``queued_at`` too: a handoff handed back and claimed again keeps its first ``claimed_at``.
    """
    moments = (row.claimed_at, row.queued_at, row.last_agent_reply_at, row.customer_updated_at)
    known = [moment for moment in moments if moment]
    return max(known) if known else None


def _customer_is_waiting(session: Session, row: Handoff) -> bool:
    """Whether the agent owes the customer an answer: no reply yet, or the customer wrote after it.

    Why: after "Could you send me a photo of the router?" the customer is the one to answer;
    "Alex is still looking into this" would not be true. The customer's messages are known from
    the thread posts queued for them (``relay_customer_message``), not from Slack.
    """
    if row.last_agent_reply_at is None:
        return True
    payloads = session.scalars(
        select(OutboxItem.payload).where(
            OutboxItem.queue == desk_queue(row.id),
            OutboxItem.kind == POST_THREAD,
            OutboxItem.created_at > row.last_agent_reply_at,
        )
    )
    return any(payload.get("kind") == "customer" for payload in payloads)


def inform_customers(
    store: HandoffStore, settings: HandoffSettings, now: datetime | None = None
) -> list[CustomerUpdate]:
    """Tell customers whose agent has been quiet for the set time that the agent is still on it."""
    now = now or utcnow()
    after = settings.still_looking_after_minutes
    if after <= 0 or not in_business_hours(now, settings.business_hours):
        return []
    with store.db.session() as session:
        claimed = session.scalars(
            select(Handoff.id).where(Handoff.status == HandoffStatus.CLAIMED, _not_demo())
        ).all()
    updates = [_inform_one(store, handoff_id, settings, now) for handoff_id in claimed]
    return [update for update in updates if update is not None]


def _inform_one(
    store: HandoffStore, handoff_id: int, settings: HandoffSettings, now: datetime
) -> CustomerUpdate | None:
    """One transaction: the customer's update, the thread note and ``customer_updated_at``."""
    with store.db.session() as session:
        row = session.get(Handoff, handoff_id, with_for_update=True)
        if row is None or row.status != HandoffStatus.CLAIMED or not row.claimed_by_name:
            return None
        since = _quiet_since(row)
        if since is None:
            return None
        quiet = business_minutes(since, now, settings.business_hours)
        if quiet < settings.still_looking_after_minutes or not _customer_is_waiting(session, row):
            return None
        row.customer_updated_at = now
        agent_name, key = row.claimed_by_name, f"still-looking:{row.id}:{since.isoformat()}"
        queued = enqueue(
            session, customer_queue(row.conversation_id), SAY_TO_CUSTOMER,
            {"handoff_id": row.id, "conversation_id": row.conversation_id,
             "text": render("utter_agent_still_looking", language=customer_language(row),
                            agent_name=agent_name),
             "agent_name": agent_name, "agent_id": row.claimed_by, "notice": True},
            dedupe_key=key,
        )  # fmt: skip
        if not queued:
            return None
        enqueue(
            session, desk_queue(row.id), POST_THREAD,
            {"handoff_id": row.id, "kind": "notice", "notice": str(Notice.STILL_LOOKING),
             "fields": {"agent": agent_name, "minutes": round(quiet)}},
            dedupe_key=f"{key}:thread",
        )  # fmt: skip
    logger.info("handoff %s: no agent reply for %.0f min; the customer was told", handoff_id, quiet)
    return CustomerUpdate(handoff_id, agent_name, quiet)


# --------------------------------------------------------------------------- the loop


def check_interval(routing: RoutingSettings, settings: HandoffSettings) -> float:
    """:data:`CHECK_EVERY_SECONDS`, or a quarter of the shortest warning window or update interval
    when one is shorter (never under half a second): a reminder is never later than a quarter of
    the warning it gives."""
    windows = [settings.still_looking_after_minutes] if settings.still_looking_after_minutes else []
    for team in routing.teams.values():
        for target in (team.first_reply_minutes, team.resolution_minutes):
            if target:
                windows.append(team.warn_before_minutes or target / 5)
    if not windows:
        return CHECK_EVERY_SECONDS
    return max(0.5, min(CHECK_EVERY_SECONDS, min(windows) * 60 / 4))


def check_once(
    store: HandoffStore, routing: RoutingSettings, settings: HandoffSettings, now: datetime | None = None
) -> tuple[list[Reminder], list[CustomerUpdate]]:
    """Both checks, once (what the loop runs; tests call it with a chosen ``now``)."""
    now = now or utcnow()
    return remind(store, routing, settings, now), inform_customers(store, settings, now)


async def sla_loop(
    store: HandoffStore,
    settings: HandoffSettings,
    stop: asyncio.Event,
    *,
    routing: RoutingSettings | None = None,
    interval: float | None = None,
) -> None:
    """Run :func:`check_once` every ``interval`` seconds (default :func:`check_interval`) until ``stop``."""
    while not stop.is_set():
        try:
            routing = routing or await run_sync(load_routing_settings)
            interval = interval or check_interval(routing, settings)
            await run_sync(check_once, store, routing, settings)
        except Exception:
            logger.exception("SLA check failed; trying again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
