"""SLA targets counted in business hours (bot/handoff/sla.py): pure, no database.

The shipped hours (Europe/London, Mon–Sat 08:00–20:00) are used throughout: December dates
are GMT (= UTC), July dates BST (UTC+1). 1 Dec 2026 is a Tuesday, 5 Dec a Saturday.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time
from pathlib import Path

import pytest

from bot.business import DAY_NAMES, BusinessHours, BusinessSettingsError, load_business_settings
from bot.handoff.routing import RoutingSettingsError, Team, parse_routing_settings
from bot.handoff.sla import NO_TARGET, SlaStatus, business_minutes, due_at, sla_status
from bot.handoff.states import HandoffStatus
from bot.handoff.store import HandoffRecord
from tests.support import ROOT
from tests.support.bot import write_business_file

LONDON = BusinessHours("Europe/London", frozenset(DAY_NAMES[:6]), time(8), time(20))
ALWAYS = BusinessHours("UTC", frozenset(DAY_NAMES), time(0), time(0))
TEAM = Team("billing", first_reply_minutes=10, resolution_minutes=60)


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute)


def handoff(**values: object) -> HandoffRecord:
    fields: dict[str, object] = {
        "id": 1, "conversation_id": "maria", "channel": "rest", "customer_id": None, "reason": "asked",
        "status": HandoffStatus.WAITING, "packet": {}, "relay_after": 0.0, "desk_channel": None,
        "card_ts": None, "team": "billing", "routing_why": None, "notify_group": None, "claimed_by": None,
        "claimed_by_name": None, "resolved_by_name": None, "followup_message": None,
        "created_at": at(2, 10), "claimed_at": None, "resolved_at": None,
    }  # fmt: skip
    fields.update(values)
    return HandoffRecord(**fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- business time


def test_around_the_clock_every_minute_counts() -> None:
    assert business_minutes(at(5, 19, 55), at(7, 8, 5), ALWAYS) == 36 * 60 + 10
    assert business_minutes(at(5, 19, 55), at(7, 8, 5), None) == 36 * 60 + 10
    assert due_at(at(5, 19, 55), 10, ALWAYS) == at(5, 20, 5)


def test_the_night_does_not_count() -> None:
    assert business_minutes(at(1, 19, 55), at(2, 8, 5), LONDON) == 10
    assert due_at(at(1, 19, 55), 10, LONDON) == at(2, 8, 5)
    assert due_at(at(1, 3, 0), 10, LONDON) == at(1, 8, 10)  # asked before opening: counts from 08:00
    assert business_minutes(at(1, 21), at(2, 7, 59), LONDON) == 0


def test_the_weekend_does_not_count() -> None:
    # Saturday 19:55 (open until 20:00), closed on Sunday, open again on Monday at 08:00.
    assert due_at(at(5, 19, 55), 10, LONDON) == at(7, 8, 5)
    assert business_minutes(at(5, 19, 55), at(7, 8, 5), LONDON) == 10
    assert business_minutes(at(5, 10), at(7, 10), LONDON) == 10 * 60 + 2 * 60  # Sat 10 to 20, Mon 8 to 10
    # A long target spans several days: 2 business days of 12 hours from Friday noon.
    assert due_at(at(4, 12), 24 * 60, LONDON) == at(7, 12)


def test_the_business_timezone_decides_when_it_opens() -> None:
    # In July London is on BST: 08:00 there is 07:00 UTC.
    assert business_minutes(at(1, 6, month=7), at(1, 7, 30, month=7), LONDON) == 30
    assert due_at(at(1, 6, month=7), 10, LONDON) == at(1, 7, 10, month=7)
    new_york = BusinessHours("America/New_York", frozenset(DAY_NAMES[:5]), time(9), time(17))
    assert due_at(at(2, 13), 10, new_york) == at(2, 14, 10)  # 09:00 EST is 14:00 UTC


def test_the_clock_change_day_counts_local_opening_hours() -> None:
    every_day = replace(LONDON, days=frozenset(DAY_NAMES))
    # Sunday 29 March 2026 the clocks go forward at 01:00 UTC: 08:00 BST is 07:00 UTC.
    assert business_minutes(datetime(2026, 3, 29, 0), datetime(2026, 3, 29, 23), every_day) == 12 * 60
    assert due_at(datetime(2026, 3, 29, 0), 1, every_day) == datetime(2026, 3, 29, 7, 1)


def test_odd_inputs() -> None:
    assert business_minutes(at(2, 12), at(2, 11), LONDON) == 0  # the end before the start
    assert due_at(at(2, 21), 0, LONDON) == at(2, 21)
    never = BusinessHours("UTC", frozenset(), time(8), time(20))  # would never reach any target
    assert due_at(at(2, 21), 10, never) == at(2, 21, 10)
    backwards = BusinessHours("UTC", frozenset(DAY_NAMES), time(20), time(8))  # is_open: never open
    assert business_minutes(at(2, 21), at(2, 22), backwards) == 60


# --------------------------------------------------------------------------- the targets


def test_first_reply_target_ok_soon_and_missed_at_the_boundaries() -> None:
    waiting = handoff()  # opened Wednesday 10:00; first reply due 10:10; "soon" is the last 2 minutes
    assert sla_status(waiting, TEAM, at(2, 10, 7), LONDON) == SlaStatus("first_reply", at(2, 10, 10), 3, "ok")
    assert sla_status(waiting, TEAM, at(2, 10, 8), LONDON).level == "soon"
    almost = sla_status(waiting, TEAM, datetime(2026, 12, 2, 10, 9, 59), LONDON)
    assert almost.level == "soon" and round(almost.minutes_left * 60) == 1
    due = sla_status(waiting, TEAM, at(2, 10, 10), LONDON)
    assert (due.level, due.minutes_left) == ("missed", 0)
    late = sla_status(waiting, TEAM, at(2, 10, 12), LONDON)
    assert (late.target, late.level, late.minutes_left) == ("first_reply", "missed", -2)


def test_a_handoff_opened_just_before_closing_is_due_the_next_morning() -> None:
    evening = handoff(created_at=at(1, 19, 55), status=HandoffStatus.CLAIMED)
    overnight = sla_status(evening, TEAM, at(2, 3), LONDON)
    assert (overnight.level, overnight.minutes_left, overnight.due_at) == ("ok", 5, at(2, 8, 5))
    assert sla_status(evening, TEAM, at(2, 8, 3), LONDON).level == "soon"
    # Missed by business minutes: 19:50 + 10 was due at 20:00; at 08:03 it is 3 minutes late, not 12 hours.
    closing = sla_status(handoff(created_at=at(1, 19, 50)), TEAM, at(2, 8, 3), LONDON)
    assert (closing.level, closing.minutes_left, closing.due_at) == ("missed", -3, at(1, 20))


def test_after_the_first_reply_the_resolution_target_applies() -> None:
    replied = handoff(
        status=HandoffStatus.CLAIMED, claimed_at=at(2, 10, 2), first_agent_reply_at=at(2, 10, 5)
    )
    status = sla_status(replied, TEAM, at(2, 10, 30), LONDON)
    assert status == SlaStatus("resolution", at(2, 11), 30, "ok")  # from created_at, not from the reply
    assert sla_status(replied, TEAM, at(2, 10, 48), LONDON).level == "soon"  # last 12 of 60 minutes
    assert sla_status(replied, TEAM, at(2, 11, 1), LONDON).level == "missed"
    # Replied late: the first-reply target no longer applies, the resolution one does.
    assert sla_status(
        replace(replied, first_agent_reply_at=at(2, 10, 30)), TEAM, at(2, 10, 40), LONDON
    ).target == ("resolution")


def test_no_target_when_resolved_not_worked_or_without_targets() -> None:
    now = at(2, 12)
    assert (
        sla_status(handoff(status=HandoffStatus.RESOLVED, resolved_at=at(2, 11)), TEAM, now, LONDON)
        == NO_TARGET
    )
    assert sla_status(handoff(status=HandoffStatus.TIMED_OUT), TEAM, now, LONDON) == NO_TARGET
    assert sla_status(handoff(status=HandoffStatus.AFTER_HOURS), TEAM, now, LONDON) == NO_TARGET
    assert sla_status(handoff(), None, now, LONDON) == NO_TARGET
    assert sla_status(handoff(), Team("general"), now, LONDON) == NO_TARGET
    # Only a first-reply target: nothing once the agent replied.
    only_first = Team("general", first_reply_minutes=10)
    assert sla_status(handoff(first_agent_reply_at=at(2, 10, 5)), only_first, now, LONDON) == NO_TARGET
    # Only a resolution target: it applies from the start.
    only_resolution = Team("general", resolution_minutes=240)
    assert sla_status(handoff(), only_resolution, at(2, 10, 30), LONDON).target == "resolution"


def test_the_warning_window_comes_from_the_argument_the_team_or_a_fifth() -> None:
    waiting = handoff()
    assert sla_status(waiting, TEAM, at(2, 10, 5), LONDON).level == "ok"
    assert sla_status(waiting, TEAM, at(2, 10, 5), LONDON, warn_before_minutes=5).level == "soon"
    eager = replace(TEAM, warn_before_minutes=6)
    assert sla_status(waiting, eager, at(2, 10, 4), LONDON).level == "soon"
    assert sla_status(waiting, eager, at(2, 10, 3), LONDON).level == "ok"
    assert sla_status(waiting, eager, at(2, 10, 3), LONDON, warn_before_minutes=8).level == "soon"


def test_the_team_key_warn_before_minutes_is_parsed_and_checked() -> None:
    raw = {"teams": {"billing": {"first_reply_minutes": 10, "warn_before_minutes": 3}},
           "rules": [{"name": "default", "team": "billing"}]}  # fmt: skip
    assert parse_routing_settings(raw).teams["billing"].warn_before_minutes == 3
    raw["teams"]["billing"]["warn_before_minutes"] = "soon"
    with pytest.raises(RoutingSettingsError, match="warn_before_minutes must be a number of minutes"):
        parse_routing_settings(raw)


def test_still_looking_after_minutes_is_read_and_checked(tmp_path: Path) -> None:
    assert load_business_settings(ROOT / "business.yml").handoff.still_looking_after_minutes == 10
    off = write_business_file(tmp_path / "off.yml", still_looking_after_minutes=0)
    assert load_business_settings(off).handoff.still_looking_after_minutes == 0
    wrong = write_business_file(tmp_path / "wrong.yml", still_looking_after_minutes=-5)
    with pytest.raises(BusinessSettingsError, match="still_looking_after_minutes must be 0"):
        load_business_settings(wrong)
