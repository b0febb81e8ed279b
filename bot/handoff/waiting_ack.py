"""One honest answer to a customer who writes while nobody has claimed their handoff yet.

Why: while a handoff waits the bot is paused, so "hello? anyone there?" used to get no
reaction at all and the customer could not tell whether they were heard. Now the first
message after the handoff opened gets "your message is with our team; someone usually
replies within about N min" (N: what is left of the expected wait, the median time to claim
of the latest handoffs, as the handoff announcement itself says). Later messages get nothing
more unless something changed: once the expected wait has passed, one more message says it
is taking longer than usual. A claim ends the wait ("Alex has joined"; after that the SLA job's
"still looking into it" takes over), so a waiting customer hears from us at most twice.

Each answer is queued in the same transaction as the message's relay to the thread, with a
dedupe key per handoff and stage, so a redelivered event never answers twice.
"""

from __future__ import annotations

import statistics
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.handoff.models import Handoff
from bot.handoff.states import HandoffStatus
from bot.outbox import enqueue
from bot.responses import render

WAIT_SAMPLE = 20  # latest claimed handoffs whose time to claim gives the expected wait


def expected_wait(
    session: Session, default: float, sample: int = WAIT_SAMPLE, team: str | None = None
) -> float:
    """Median minutes to claim over the latest claimed handoffs (of ``team``), or ``default`` without data."""
    query = select(Handoff.created_at, Handoff.claimed_at).where(Handoff.claimed_at.is_not(None))
    if team is not None:
        query = query.where(Handoff.team == team)
    rows = session.execute(query.order_by(Handoff.id.desc()).limit(sample)).all()
    waits = [(claimed - created).total_seconds() / 60 for created, claimed in rows]
    return statistics.median(waits) if len(waits) >= 3 else default


def customer_language(row: Handoff) -> str | None:
    """The language the customer wrote in (the ``language`` slot on the handoff's packet)."""
    return str(((row.packet or {}).get("slots") or {}).get("language") or "") or None


def acknowledge_waiting(
    session: Session, row: Handoff, now: datetime, default_wait: float, customer_queue: str, kind: str
) -> bool:
    """Queue the waiting customer's answer if this stage has none yet; True when queued."""
    if row.status != HandoffStatus.WAITING:
        return False
    waited = (now - row.created_at).total_seconds() / 60
    expected = expected_wait(session, default_wait, team=row.team)
    language = customer_language(row)
    if waited < expected:
        stage = "heard"
        left = max(1, round(expected - waited))
        text = render("utter_handoff_still_waiting", row.channel, language, wait_minutes=left)
    else:
        stage = "longer"
        text = render("utter_handoff_waiting_longer", row.channel, language)
    queued = enqueue(
        session, customer_queue, kind,
        {"handoff_id": row.id, "conversation_id": row.conversation_id, "text": text, "notice": True},
        dedupe_key=f"waiting-ack:{row.id}:{stage}",
    )  # fmt: skip
    if queued:
        row.customer_updated_at = now
    return queued
