"""Service targets of a handoff, counted in business hours: what is due, when, and how urgent.

A team's first-reply and resolution targets (business.yml ``routing.teams.<team>``,
bot/handoff/routing.py) are promises about the support team's working time: a handoff opened
at 19:55 on a Saturday with a 10-minute target is not "missed" at 20:05 when the team is off
until Monday 08:00. So every time here is counted only inside ``handoff.business_hours``
(bot/business.py ``BusinessHours``, the same hours ``actions/handoff.py`` asks with
``is_open`` when it decides whether a person can take over).

Pure: datetimes (naive UTC, the way the handoff table stores them) and settings in, numbers
out. The reminder job (bot/handoff/sla_job.py) and the App Home queue both ask
:func:`sla_status`, so the colour an agent sees and the reminder in the thread agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from bot.business import DAY_NAMES, BusinessHours
from bot.handoff.states import ACTIVE, parse

Target = Literal["first_reply", "resolution"]
Level = Literal["ok", "soon", "missed", "none"]

# Without a team's ``warn_before_minutes``: "soon" is the last fifth of the target (2 minutes
# of a 10-minute first reply, 48 of a 4-hour resolution), so the warning scales with the promise.
DEFAULT_WARN_SHARE = 0.2
# A schedule is weekly, so a valid one opens within 8 days; this bounds the walk for any input.
_HORIZON_DAYS = 3700


class HandoffTimes(Protocol):
    """What :func:`sla_status` reads (``bot.handoff.store.HandoffRecord`` has it)."""

    status: str
    created_at: datetime
    first_agent_reply_at: datetime | None
    resolved_at: datetime | None


class TeamTargets(Protocol):
    """What :func:`sla_status` reads of a team (``bot.handoff.routing.Team`` has it)."""

    first_reply_minutes: float | None
    resolution_minutes: float | None
    warn_before_minutes: float | None


@dataclass(frozen=True)
class SlaStatus:
    """Where a handoff stands against the target that applies now.

    ``minutes_left`` is business minutes until ``due_at`` (negative: missed by that many);
    ``level`` is "ok", "soon" (within the warning window), "missed" (``due_at`` has passed)
    or "none" (no target applies: no team targets, resolved, or no person is working it).
    """

    target: Target | None
    due_at: datetime | None
    minutes_left: float | None
    level: Level


NO_TARGET = SlaStatus(target=None, due_at=None, minutes_left=None, level="none")


def _always_counts(hours: BusinessHours | None) -> bool:
    """Hours under which every minute counts: none given, 24/7, or a schedule that never opens.

    A schedule that never opens (no days, or a close before the open, which ``is_open`` never
    finds open) would make every target unreachable; wall-clock minutes keep reminders coming.
    """
    if hours is None:
        return True
    every_day = all(day in hours.days for day in DAY_NAMES)
    never_open = not hours.days or hours.closes < hours.opens
    return (every_day and hours.opens == hours.closes) or never_open


def in_business_hours(moment: datetime, hours: BusinessHours | None) -> bool:
    """Whether ``moment`` (naive UTC) counts: inside the hours, or hours under which every minute counts."""
    return hours is None or _always_counts(hours) or hours.is_open(_utc(moment))


def _utc(moment: datetime) -> datetime:
    """Naive UTC (the table's form) as aware UTC; an aware datetime is converted."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _open_intervals(start: datetime, hours: BusinessHours) -> Iterator[tuple[datetime, datetime]]:
    """The open periods (aware UTC) from ``start`` on, in order, the first clipped to ``start``."""
    zone = ZoneInfo(hours.timezone)
    day = start.astimezone(zone).date()
    for _ in range(_HORIZON_DAYS):
        if DAY_NAMES[day.weekday()] in hours.days:
            opens = datetime.combine(day, hours.opens, tzinfo=zone)
            if hours.opens == hours.closes:  # "00:00" to "00:00": open all day
                closes = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
            else:
                closes = datetime.combine(day, hours.closes, tzinfo=zone)
            opens, closes = max(opens.astimezone(UTC), start), closes.astimezone(UTC)
            if closes > opens:
                yield opens, closes
        day += timedelta(days=1)


def business_minutes(start: datetime, end: datetime, hours: BusinessHours | None) -> float:
    """Minutes from ``start`` to ``end`` (naive UTC) that fall inside business hours; 0 if ``end`` is earlier.

    24/7 hours (or none) count every minute.
    """
    begin, finish = _utc(start), _utc(end)
    if finish <= begin:
        return 0.0
    if _always_counts(hours):
        return (finish - begin).total_seconds() / 60
    total = 0.0
    for opens, closes in _open_intervals(begin, hours):
        if opens >= finish:
            break
        total += (min(closes, finish) - opens).total_seconds() / 60
    return total


def due_at(start: datetime, minutes: float, hours: BusinessHours | None) -> datetime:
    """The moment (naive UTC) at which ``minutes`` of business time after ``start`` have passed.

    Time outside business hours does not count: 10 minutes from 19:55 on a day that closes
    at 20:00 are due 5 minutes after the next opening.
    """
    begin = _utc(start)
    if minutes <= 0:
        return _naive(begin)
    if _always_counts(hours):
        return _naive(begin + timedelta(minutes=minutes))
    remaining = float(minutes)
    for opens, closes in _open_intervals(begin, hours):
        length = (closes - opens).total_seconds() / 60
        if remaining <= length:
            return _naive(opens + timedelta(minutes=remaining))
        remaining -= length
    raise ValueError(f"business hours {hours} never reach {minutes} minutes after {start}")  # unreachable


def warn_window(target_minutes: float, warn_before_minutes: float | None) -> float:
    """How many minutes before a target is due it counts as "soon": the setting, or a fifth of it."""
    if warn_before_minutes is not None:
        return float(warn_before_minutes)
    return target_minutes * DEFAULT_WARN_SHARE


def applicable_target(handoff: HandoffTimes, team: TeamTargets | None) -> tuple[Target, float] | None:
    """The target that applies now and its minutes, or None.

    The rule: only a handoff a person is (or should be) working — waiting or claimed — has a
    target. Until the first agent reply it is the team's first-reply target; from the first
    reply on, the resolution target. Both run from ``created_at``: the customer's wait started
    when they asked for a person, whoever holds it now. A team with only one of the targets
    has that one while it applies (only a resolution target: it applies from the start).
    Resolved (or timed out, after hours): none.
    """
    if team is None or handoff.resolved_at is not None or parse(handoff.status) not in ACTIVE:
        return None
    if handoff.first_agent_reply_at is None and team.first_reply_minutes:
        return "first_reply", float(team.first_reply_minutes)
    if team.resolution_minutes:
        return "resolution", float(team.resolution_minutes)
    return None


def sla_status(
    handoff: HandoffTimes,
    team: TeamTargets | None,
    now: datetime,
    hours: BusinessHours | None,
    *,
    warn_before_minutes: float | None = None,
) -> SlaStatus:
    """Where ``handoff`` stands at ``now`` (naive UTC) against its team's target.

    Which target applies is :func:`applicable_target`'s rule.

    ``warn_before_minutes``: the "soon" window; None takes the team's ``warn_before_minutes``
    and, without one, the last fifth of the target (:data:`DEFAULT_WARN_SHARE`). Missed when
    ``now`` is at or after the due time; ``minutes_left`` then says by how many business minutes.
    """
    applies = applicable_target(handoff, team)
    if applies is None:
        return NO_TARGET
    target, minutes = applies
    due = due_at(handoff.created_at, minutes, hours)
    if _utc(now) >= _utc(due):
        return SlaStatus(target, due, -business_minutes(due, now, hours), "missed")
    left = business_minutes(now, due, hours)
    if warn_before_minutes is None:
        warn_before_minutes = team.warn_before_minutes
    level: Level = "soon" if left <= warn_window(minutes, warn_before_minutes) else "ok"
    return SlaStatus(target, due, left, level)
