"""Reporting periods in the business's timezone, local days, and business-hours durations (pure).

A support lead thinks in local days: "November" means 1 November 00:00 to 30 November 24:00
on the office clock (business.yml ``handoff.business_hours.timezone``), whatever UTC says,
and a day that gains an hour when the clocks go back (last Sunday of October in
Europe/London) is still one day. So a period is a pair of inclusive local dates, turned
into UTC instants only at the edges (:meth:`Period.bounds`), and every instant is put in
its local day by :func:`local_day` — never by adding 24 hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.business import DAY_NAMES, BusinessHours


class PeriodError(ValueError):
    """A period the report cannot use (unparseable, or ending before it starts)."""


@dataclass(frozen=True)
class Period:
    """Local dates ``start``..``end`` (both inclusive) in ``timezone``."""

    start: date
    end: date
    timezone: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError(f"the period ends ({self.end}) before it starts ({self.start})")
        ZoneInfo(self.timezone)  # a misspelt zone fails here, not deep in a report

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of equal length (in local days) that ends the day before this one starts."""
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end, self.timezone)

    def bounds(self) -> tuple[datetime, datetime]:
        """(first instant, first instant after) the period, as aware UTC datetimes."""
        return local_midnight(self.start, self.timezone), local_midnight(
            self.end + timedelta(days=1), self.timezone
        )

    def contains(self, moment: datetime) -> bool:
        return self.start <= local_day(moment, self.timezone) <= self.end

    def each_day(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def month(cls, year: int, month: int, timezone: str) -> Period:
        first = date(year, month, 1)
        following = date(year + (month == 12), month % 12 + 1, 1)
        return cls(first, following - timedelta(days=1), timezone)

    @classmethod
    def last_days(cls, count: int, now: datetime, timezone: str) -> Period:
        """The ``count`` local days ending with today (today included)."""
        if count < 1:
            raise PeriodError(f"a period needs at least one day, not {count}")
        today = local_day(now, timezone)
        return cls(today - timedelta(days=count - 1), today, timezone)

    @classmethod
    def parse(cls, text: str, timezone: str, now: datetime) -> Period:
        """``2026-11`` (a month), ``2026-11-01..2026-11-30``, ``2026-11-05`` (a day) or ``30d``."""
        value = text.strip()
        try:
            if re.fullmatch(r"\d+d", value):
                return cls.last_days(int(value[:-1]), now, timezone)
            if re.fullmatch(r"\d{4}-\d{2}", value):
                year, month = value.split("-")
                return cls.month(int(year), int(month), timezone)
            if ".." in value:
                first, last = value.split("..", 1)
                return cls(date.fromisoformat(first.strip()), date.fromisoformat(last.strip()), timezone)
            day = date.fromisoformat(value)
            return cls(day, day, timezone)
        except ValueError as exc:
            if isinstance(exc, PeriodError):
                raise
            raise PeriodError(
                f"cannot read the period {text!r}: write a month (2026-11), a range of local dates "
                f"(2026-11-01..2026-11-30), one date (2026-11-05) or the last N days (30d)"
            ) from exc


def local_midnight(day: date, timezone: str) -> datetime:
    """The UTC instant the local ``day`` begins (00:00 exists on every day in every zone we use)."""
    return datetime.combine(day, time(0), ZoneInfo(timezone)).astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime is read as UTC (how all our tables store times)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def from_timestamp(stamp: float) -> datetime:
    """A Rasa event's Unix ``timestamp`` as an aware UTC datetime."""
    return datetime.fromtimestamp(stamp, UTC)


def local_day(moment: datetime, timezone: str) -> date:
    """The local calendar day of an instant (naive = UTC)."""
    return as_utc(moment).astimezone(ZoneInfo(timezone)).date()


def business_seconds(start: datetime, end: datetime, hours: BusinessHours) -> float:
    """Seconds between two instants during which ``hours`` is open (0 when ``end`` <= ``start``).

    The same opening rule as :meth:`BusinessHours.is_open`: on an opening day, local
    ``opens`` <= time < ``closes``; ``opens == closes`` is open all day; a closing time
    before the opening time is never open. Each local day's window is made from the local
    clock, so a DST change moves it with the office, and a closed night or weekend adds nothing.
    """
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        return 0.0
    zone = ZoneInfo(hours.timezone)
    total = 0.0
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    while day <= last:
        window = _open_window(day, hours, zone)
        if window is not None:
            overlap = (min(end, window[1]) - max(start, window[0])).total_seconds()
            total += max(0.0, overlap)
        day += timedelta(days=1)
    return total


def _open_window(day: date, hours: BusinessHours, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    if DAY_NAMES[day.weekday()] not in hours.days:
        return None
    if hours.opens == hours.closes:
        return local_midnight(day, hours.timezone), local_midnight(day + timedelta(days=1), hours.timezone)
    if hours.closes < hours.opens:
        return None
    opens = datetime.combine(day, hours.opens, zone).astimezone(UTC)
    closes = datetime.combine(day, hours.closes, zone).astimezone(UTC)
    return opens, closes
