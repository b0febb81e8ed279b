"""The report's arithmetic and calendar on hand-computed answers (bot/experience/measures.py, periods.py).

NPS ties at the detractor/passive/promoter edges (6, 7, 9), medians of even counts, periods
and local days across both Europe/London clock changes of 2026 (29 March: 23-hour day;
25 October: 25-hour day), and business-hours durations across a closed night and weekend.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.business import DAY_NAMES, BusinessHours
from bot.experience import measures
from bot.experience.periods import Period, PeriodError, business_seconds, local_day

LONDON = "Europe/London"
OFFICE = BusinessHours(LONDON, frozenset(DAY_NAMES[:6]), time(8), time(20))  # Mon-Sat 08:00-20:00


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --------------------------------------------------------------------------- scores


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([6, 7, 9], 0.0),  # one detractor (6), one passive (7), one promoter (9)
        ([9, 9, 7, 6], 25.0),  # (2 - 1) / 4
        ([6, 6, 6, 7], -75.0),  # 6 is a detractor, 7 is not
        ([7, 8, 7, 8], 0.0),  # passives only
        ([10, 9, 8, 7, 6, 0], 0.0),  # 2 promoters, 2 detractors of 6
        ([9, 10], 100.0),
        ([0, 6], -100.0),
        ([9, 6, 7], 0.0),
        ([9, 7, 7], 100 / 3),
    ],
)
def test_nps_is_promoters_minus_detractors_with_6_a_detractor_and_9_a_promoter(scores, expected) -> None:
    assert measures.nps(scores) == pytest.approx(expected)


def test_no_answers_is_none_not_zero() -> None:
    assert measures.nps([]) is None
    assert measures.csat([]) is None
    assert measures.average([]) is None
    assert measures.median([]) is None
    assert measures.percentile([], 90) is None
    assert measures.rate(0, 0) is None
    assert measures.rate(0, 3) == 0.0


def test_csat_counts_4_and_5_as_satisfied_and_ces_is_the_mean() -> None:
    assert measures.csat([5, 4, 3, 2, 1, 4]) == 50.0
    assert measures.csat([3]) == 0.0
    assert measures.average([7, 6, 2]) == 5.0


# --------------------------------------------------------------------------- medians and percentiles


@pytest.mark.parametrize(
    ("values", "expected"),
    [([1, 2, 3, 4], 2.5), ([10, 2], 6.0), ([4, 1, 3, 2, 100, 0], 2.5), ([5], 5.0), ([3, 1, 2], 2.0)],
)
def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values(values, expected) -> None:
    assert measures.median(values) == expected


def test_percentiles_interpolate_between_ranks() -> None:
    values = [1, 2, 3, 4]
    assert measures.percentile(values, 50) == measures.median(values) == 2.5
    assert measures.percentile(values, 90) == pytest.approx(3.7)
    assert measures.percentile(values, 0) == 1 and measures.percentile(values, 100) == 4
    with pytest.raises(ValueError):
        measures.percentile(values, 101)


def test_change_needs_both_values() -> None:
    assert measures.change(50.0, 40.0) == 10.0
    assert measures.change(None, 40.0) is None and measures.change(50.0, None) is None


# --------------------------------------------------------------------------- periods across DST


def test_the_day_the_clocks_go_back_is_25_hours_and_one_local_day() -> None:
    day = Period(date(2026, 10, 25), date(2026, 10, 25), LONDON)
    start, end = day.bounds()
    assert start == utc(2026, 10, 24, 23) and end == utc(2026, 10, 26, 0)
    assert end - start == timedelta(hours=25)
    assert local_day(utc(2026, 10, 24, 22, 59), LONDON) == date(2026, 10, 24)  # 23:59 BST
    assert local_day(utc(2026, 10, 24, 23, 30), LONDON) == date(2026, 10, 25)  # 00:30 BST
    assert local_day(utc(2026, 10, 25, 0, 30), LONDON) == date(2026, 10, 25)  # 01:30 BST, before the change
    assert local_day(utc(2026, 10, 25, 1, 30), LONDON) == date(2026, 10, 25)  # 01:30 GMT, after it
    assert local_day(utc(2026, 10, 25, 23, 30), LONDON) == date(2026, 10, 25)  # 23:30 GMT
    assert local_day(utc(2026, 10, 26, 0, 0), LONDON) == date(2026, 10, 26)
    assert day.contains(utc(2026, 10, 25, 23, 59)) and not day.contains(utc(2026, 10, 24, 22, 59))


def test_the_day_the_clocks_go_forward_is_23_hours() -> None:
    start, end = Period(date(2026, 3, 29), date(2026, 3, 29), LONDON).bounds()
    assert start == utc(2026, 3, 29, 0) and end == utc(2026, 3, 28 + 1, 23)
    assert end - start == timedelta(hours=23)
    assert local_day(utc(2026, 3, 29, 23, 30), LONDON) == date(2026, 3, 30)  # 00:30 BST on the 30th


def test_a_period_spanning_the_change_and_its_previous_period() -> None:
    october = Period.month(2026, 10, LONDON)
    assert (october.start, october.end, october.days) == (date(2026, 10, 1), date(2026, 10, 31), 31)
    start, end = october.bounds()
    assert start == utc(2026, 9, 30, 23) and end == utc(2026, 11, 1, 0)  # BST start, GMT end
    assert end - start == timedelta(days=31, hours=1)
    previous = october.previous()
    assert (previous.start, previous.end) == (date(2026, 8, 31), date(2026, 9, 30))  # 31 days too
    march = Period.month(2026, 3, LONDON)
    assert march.bounds()[1] - march.bounds()[0] == timedelta(days=31, hours=-1)
    assert Period.month(2026, 12, LONDON).end == date(2026, 12, 31)


def test_period_text() -> None:
    now = utc(2026, 10, 25, 23, 30)
    assert Period.parse("2026-11", LONDON, now) == Period(date(2026, 11, 1), date(2026, 11, 30), LONDON)
    assert Period.parse("2026-11-02..2026-11-08", LONDON, now).days == 7
    assert Period.parse("2026-11-05", LONDON, now).days == 1
    assert Period.parse("7d", LONDON, now) == Period(date(2026, 10, 19), date(2026, 10, 25), LONDON)
    for bad in ("november", "2026-11-08..2026-11-01", "0d"):
        with pytest.raises(PeriodError):
            Period.parse(bad, LONDON, now)


# --------------------------------------------------------------------------- business hours


def test_business_hours_skip_the_closed_night_and_sunday() -> None:
    # Friday 6 Nov 2026 19:30 GMT → Monday 9 Nov 08:30: Fri 30 min + Sat 12 h + Mon 30 min.
    assert business_seconds(utc(2026, 11, 6, 19, 30), utc(2026, 11, 9, 8, 30), OFFICE) == 13 * 3600
    # Overnight Tuesday 19:00 → Wednesday 09:00: 1 h + 1 h.
    assert business_seconds(utc(2026, 11, 10, 19), utc(2026, 11, 11, 9), OFFICE) == 2 * 3600
    # All inside a closed stretch: Saturday 21:00 → Monday 07:59.
    assert business_seconds(utc(2026, 11, 7, 21), utc(2026, 11, 9, 7, 59), OFFICE) == 0
    assert business_seconds(utc(2026, 11, 9, 12), utc(2026, 11, 9, 11), OFFICE) == 0  # reversed


def test_business_hours_follow_the_office_clock_across_the_change() -> None:
    # Saturday 24 Oct 19:00 BST (18:00 UTC) → Monday 26 Oct 09:00 GMT: Sat 1 h + Mon 1 h.
    assert business_seconds(utc(2026, 10, 24, 18), utc(2026, 10, 26, 9), OFFICE) == 2 * 3600
    every_day = BusinessHours(LONDON, frozenset(DAY_NAMES), time(8), time(20))
    # Open on Sunday too: Sat 19:00 BST → Sun 09:00 GMT is 15 h on the wall, 2 h open.
    assert business_seconds(utc(2026, 10, 24, 18), utc(2026, 10, 25, 9), every_day) == 2 * 3600
    around_the_clock = BusinessHours(LONDON, frozenset(DAY_NAMES), time(0), time(0))
    assert business_seconds(utc(2026, 10, 24, 23), utc(2026, 10, 26), around_the_clock) == 25 * 3600


def test_business_seconds_agree_with_is_open_minute_by_minute() -> None:
    start = utc(2026, 10, 23, 17, 0)
    minutes = 4 * 24 * 60
    sampled = sum(OFFICE.is_open(start + timedelta(minutes=m, seconds=30)) for m in range(minutes))
    assert business_seconds(start, start + timedelta(minutes=minutes), OFFICE) == sampled * 60
