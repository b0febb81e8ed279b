"""build_report on a hand-made November (bot/experience/report.py): every figure computed by hand.

Europe/London is on GMT all November, so local times equal the UTC times written here.
The conversations (one sender each unless said):

====  =========  ===============  =====================================================
A     web-a      Mon 2 10:00      order status; customer 1 on the web chat; not confirmed
B     x-1        Tue 3 09:00      delivery time; customer 1 again, on X, 22 h 59 min after A
C     web-c      Wed 4 12:00      return policy
D     web-c      Thu 5 13:00:01   25 h after C; reset password, then "thanks"
E     web-c      Wed 11 13:01:01  6 days after D; greet, then a message with a card number (fallback)
F     web-f      Thu 12 15:00     return policy, survey asked, the customer changes the subject
G     web-g      Fri 6 19:30      "a human" → handoff at once; claimed Mon 08:30, resolved Mon 09:00
H     web-h      Sat 7 10:00      order status form, left unanswered (abandoned)
I     web-c      Thu 19 13:02:03  8 days after E; support hours
K     web-k      Tue 20 Oct       order status (the previous period)
====  =========  ===============  =====================================================
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from bot.business import DAY_NAMES, BusinessHours
from bot.experience.conversations import Conversation, HandoffRow, conversations_of
from bot.experience.periods import Period
from bot.experience.report import MetricSettings, build_report
from bot.experience.tracker_events import SurveyRow
from bot.redact import redact
from tests.test_experience_metrics_conversations import (
    action,
    answer,
    bot,
    handoff_row,
    start,
    survey_answer,
    survey_question,
    ts,
    user,
)

LONDON = "Europe/London"
SETTINGS = MetricSettings(BusinessHours(LONDON, frozenset(DAY_NAMES[:6]), time(8), time(20)))
NOVEMBER = Period.month(2026, 11, LONDON)
NOW = datetime(2026, 12, 20, tzinfo=UTC)  # every window of November has elapsed
IDENTITIES = {("webchat", "web-a"): 1, ("twitter", "x-1"): 1}
CARD_TEXT = "my card is 4111 1111 1111 1111"


def t(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> float:
    return ts(2026, month, day, hour, minute, second)


def asked(
    key: str, kind: str, status: str, score: int | None = None, trigger: str = "bot_resolved", **rest: Any
) -> SurveyRow:
    sender, _, stamp = key.partition("@")
    at = datetime.fromtimestamp(float(stamp), UTC)
    return SurveyRow(
        conversation_key=key,
        conversation_id=sender,
        customer_key=f"sender:{sender}",
        channel=rest.pop("channel", "webchat"),
        kind=kind,
        trigger=trigger,
        status=status,
        asked_at=at,
        score=score,
        answered_at=at if score is not None else None,
        **rest,
    )


def scenario() -> tuple[list[Conversation], list[SurveyRow], list[HandoffRow]]:
    a, b, c, d = t(2, 10), t(3, 9), t(4, 12), t(5, 13, 0, 1)
    e, f, g, h, i, k = (
        t(11, 13, 1, 1),
        t(12, 15),
        t(6, 19, 30),
        t(7, 10),
        t(19, 13, 2, 3),
        t(20, 10, month=10),
    )
    events: dict[str, list[dict[str, Any]]] = {
        "web-a": [
            *start(a),
            user("where is my order", "order_status", a),
            *answer(a, "action_order_status", delay=2),
        ],
        "x-1": [
            *start(b),
            user("when will it arrive", "delivery_time", b, "twitter"),
            *answer(b, "action_order_status", delay=3),
            *survey_question(b + 4),
            *survey_answer("9", "nlu_fallback", b + 60, "twitter"),
        ],
        "web-c": [
            *start(c),
            user("returns?", "return_policy", c),
            *answer(c, "action_return_policy"),
            *start(d),
            user("reset my password", "reset_password", d),
            *answer(d, "action_reset_password", delay=4),
            user("thanks", "thank", d + 60),
            *answer(d + 60, "utter_you_are_welcome", delay=0),
            *start(e),
            user("hi", "greet", e),
            *answer(e, "utter_greet"),
            user(CARD_TEXT, "nlu_fallback", e + 59),
            *answer(e + 59, "action_fallback"),
            *start(i),
            user("when are you open", "support_hours", i),
            *answer(i, "action_support_hours", delay=2),
        ],
        "web-f": [
            *start(f),
            user("how do returns work", "return_policy", f),
            *answer(f, "action_return_policy", delay=2),
            *survey_question(f + 3),
            user("where is my refund", "refund_status", f + 60),
            action("action_survey_answer", f + 60.5),
            {"event": "undo", "timestamp": f + 60.5},
            *answer(f + 60, "action_refund_status", delay=2),
        ],
        "web-g": [
            *start(g),
            user("I want a human", "human_handoff", g),
            action("action_handoff", g + 1),
            bot("A person will be with you shortly.", g + 1),
            {"event": "pause", "timestamp": g + 1},
            bot("Hi, Sam here", t(9, 8, 31), agent="Sam"),
            *start(t(9, 9)),
            user("/EXTERNAL_handoff_resolved", "EXTERNAL_handoff_resolved", t(9, 9)),
            *answer(t(9, 9), "action_handoff_resolved", "You're back with the assistant"),
        ],
        "web-h": [
            *start(h),
            user("where is my order", "order_status", h),
            action("order_status_form", h + 1),
            {"event": "active_loop", "timestamp": h + 1, "name": "order_status_form"},
            bot("What's your order number?", h + 1),
            action("action_listen", h + 1),
        ],
        "web-k": [
            *start(k),
            user("order status please", "order_status", k),
            *answer(k, "action_order_status"),
        ],
    }
    handoff = handoff_row(
        "web-g",
        g + 1,
        claimed_by_name="Sam",
        claimed_at=datetime.fromtimestamp(t(9, 8, 30), UTC),
        resolved_at=datetime.fromtimestamp(t(9, 9), UTC),
    )
    conversations = [
        conv
        for sender, evs in events.items()
        for conv in conversations_of(
            sender, evs, handoffs=[handoff] if sender == "web-g" else [], identities=IDENTITIES
        )
    ]
    surveys = [
        asked(f"x-1@{int(b)}", "nps", "answered", 9, channel="twitter", intents=("delivery_time",)),
        asked(f"web-f@{int(f)}", "csat", "ignored"),
        asked(
            f"web-g@{int(g)}",
            "csat",
            "answered",
            2,
            trigger="after_agent",
            agent_name="Sam",
            handoff_id=1,
            handoff_reason="the customer asked for a person",
            comment="Waited all weekend, card 4111 1111 1111 1111",
        ),
        asked(f"web-c@{int(d)}", "ces", "answered", 6),
        asked(f"web-c@{int(c)}", "csat", "answered", 5),
        asked(f"web-a@{int(a)}", "ces", "answered", 4),
        asked(f"web-z@{int(t(14, 10))}", "nps", "answered", 6, comment="meh"),
        asked(f"web-y@{int(t(15, 10))}", "nps", "answered", 7),
        asked(f"web-w@{int(t(16, 10))}", "nps", "declined"),
    ]
    waiting = [
        handoff_row("web-q", t(19, 12), status="waiting", reason="billing dispute (handled by people only)")
    ]
    return conversations, surveys, waiting


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    conversations, surveys, waiting = scenario()
    return build_report(conversations, surveys, waiting, NOVEMBER, settings=SETTINGS, now=NOW)


def values(report: dict[str, Any]) -> dict[str, Any]:
    return {name: figure["value"] for name, figure in report["figures"].items()}


def test_resolution_figures_side_by_side(report: dict[str, Any]) -> None:
    figures = values(report)
    assert figures["conversations"] == 9  # A B C D E F G H I (a late EXTERNAL trigger is not one)
    assert figures["involvement"] == 88.9  # 8 of 9: G went to a person before the bot answered
    assert figures["containment"] == 100.0  # 8 of the 8 bot-entered conversations had no handoff
    # Verified: B, C (25 h of silence), D (thanked), E, F, I; not A (came back on X after 22:59), not H.
    assert figures["verified_resolution"] == 75.0
    # Durable: B, E (8 days of silence), F, I; not C (25 h), not D (6 days).
    assert figures["durable_resolution"] == 50.0
    assert figures["reopen_rate"] == 33.3  # A, C, D of 9
    assert figures["abandoned_rate"] == 12.5  # H of 8
    assert figures["handoff_rate"] == 11.1  # G of 9
    assert figures["fallback_rate"] == 8.3  # 1 of 12 customer messages; B's "9" is a survey answer


def test_times_for_bot_and_people_with_business_hours(report: dict[str, Any]) -> None:
    figures = values(report)
    assert figures["bot_first_response_median"] == 2.0  # of 1 1 1 1 2 2 2 3 4
    assert figures["bot_resolution_median"] == 3.0  # of 1 2 2 3 60 60 62 (H abandoned is left out)
    requested = datetime(2026, 11, 6, 19, 30, 1, tzinfo=UTC)
    assert (
        figures["handoff_claim_median"]
        == (datetime(2026, 11, 9, 8, 30, tzinfo=UTC) - requested).total_seconds()
    )
    assert figures["people_first_reply_median"] == 219_659.0
    assert figures["people_resolution_median"] == 221_399.0
    assert figures["handoff_claim_median_business_hours"] == 1799 + 12 * 3600 + 1800  # Fri, Sat, Mon
    assert figures["people_resolution_median_business_hours"] == 1799 + 12 * 3600 + 3600
    assert figures["waiting_now"] == 1 and report["waiting_now"] == 1
    assert report["distributions"]["bot_resolution_seconds"] == [1.0, 2.0, 2.0, 3.0, 60.0, 60.0, 62.0]
    assert report["distributions"]["people_resolution_seconds"] == [221_399.0]


def test_survey_figures(report: dict[str, Any]) -> None:
    figures = values(report)
    assert (figures["csat"], figures["csat_response_rate"]) == (50.0, 66.7)  # 5 and 2; 2 of 3 answered
    assert (figures["csat_bot_only"], figures["csat_after_person"]) == (100.0, 0.0)
    assert (figures["nps"], figures["nps_response_rate"]) == (0.0, 75.0)  # 9, 6, 7; one declined
    assert (figures["nps_bot_only"], figures["nps_after_person"]) == (0.0, None)
    assert (figures["ces"], figures["ces_response_rate"], figures["ces_after_person"]) == (5.0, 100.0, None)


def test_previous_period_and_change(report: dict[str, Any]) -> None:
    assert report["period"] == {
        "start": "2026-11-01",
        "end": "2026-11-30",
        "timezone": LONDON,
        "previous": {"start": "2026-10-02", "end": "2026-10-31"},
    }
    conversations, involvement = report["figures"]["conversations"], report["figures"]["involvement"]
    assert (conversations["previous"], conversations["change"]) == (1, 8)  # K
    assert (involvement["previous"], involvement["change"]) == (100.0, -11.1)
    assert report["figures"]["csat"]["previous"] is None and report["figures"]["csat"]["change"] is None
    assert report["figures"]["nps"]["unit"] == "score" and involvement["unit"] == "percent"


def test_breakdowns_trend_and_lists(report: dict[str, Any]) -> None:
    channels = {row["key"]: row["figures"] for row in report["breakdowns"]["channel"]}
    assert list(channels) == ["webchat", "twitter"]
    assert channels["webchat"]["conversations"] == 8
    assert channels["webchat"]["bot_first_response_median"] == 1.5  # of 1 1 1 1 2 2 2 4: an even count
    assert (channels["twitter"]["nps"], channels["webchat"]["nps"]) == (100.0, -50.0)
    assert (channels["webchat"]["waiting_now"], channels["twitter"]["waiting_now"]) == (1, 0)
    intents = {row["key"]: row["figures"] for row in report["breakdowns"]["intent"]}
    assert intents["order_status"]["conversations"] == 2 and intents["thank"]["conversations"] == 1
    assert "EXTERNAL_handoff_resolved" not in intents
    agents = {row["key"]: row["figures"] for row in report["breakdowns"]["agent"]}
    assert agents["Sam"]["conversations"] == 1 and agents["Sam"]["csat"] == 0.0
    assert [row["key"] for row in report["breakdowns"]["handoff_reason"]] == [
        "the customer asked for a person"
    ]

    days = {row["day"]: row for row in report["trend"]}
    assert len(days) == 30 and days["2026-11-01"]["conversations"] == 0
    assert days["2026-11-01"]["involvement"] is None
    assert (days["2026-11-02"]["conversations"], days["2026-11-02"]["verified_resolution"]) == (1, 0.0)
    assert (
        days["2026-11-04"]["durable_resolution"] == 0.0 and days["2026-11-11"]["durable_resolution"] == 100.0
    )

    assert report["handoff_reasons"] == [{"reason": "the customer asked for a person", "count": 1}]
    assert report["top_unrecognised"] == [{"text": redact(CARD_TEXT).casefold(), "count": 1}]
    assert "4111 1111" not in json.dumps(report)
    comments = report["detractor_comments"]
    assert [(c["kind"], c["score"], c["conversation_id"]) for c in comments] == [
        ("nps", 6, "web-z"),
        ("csat", 2, "web-g"),
    ]
    json.dumps(report)  # JSON-serialisable


def test_windows_that_have_not_elapsed_leave_the_denominator() -> None:
    conversations, surveys, waiting = scenario()
    # On 20 Nov 14:00: I (ended 19 Nov 13:02:05) is past 24 h but not 7 days; E (11 Nov) is past both.
    now = datetime(2026, 11, 20, 14, tzinfo=UTC)
    report = build_report(conversations, surveys, waiting, NOVEMBER, settings=SETTINGS, now=now)
    figures = values(report)
    assert figures["verified_resolution"] == 75.0  # the same 8 conversations: all are past 24 h
    assert figures["durable_resolution"] == pytest.approx(round(100 * 3 / 7, 1))  # B E F of 7 (I left out)
    assert figures["reopen_rate"] == 37.5  # A C D of 8 (I left out)
    early = datetime(2026, 11, 19, 14, tzinfo=UTC)  # I ended 59 minutes ago
    figures = values(build_report(conversations, surveys, waiting, NOVEMBER, settings=SETTINGS, now=early))
    assert figures["verified_resolution"] == pytest.approx(round(100 * 5 / 7, 1))  # B C D E F of 7


def test_local_days_of_the_trend_across_the_clock_change() -> None:
    sender_times = {
        "a": ts(2026, 10, 24, 22, 59),
        "b": ts(2026, 10, 24, 23, 30),
        "c": ts(2026, 10, 25, 0, 30),
        "d": ts(2026, 10, 25, 23, 30),
        "e": ts(2026, 10, 26, 0, 0),
    }
    conversations = [
        conversations_of(sender, [*start(at), user("hi", "greet", at), *answer(at, "utter_greet")])[0]
        for sender, at in sender_times.items()
    ]
    period = Period(date(2026, 10, 24), date(2026, 10, 26), LONDON)
    report = build_report(conversations, [], [], period, settings=SETTINGS, now=NOW)
    assert [(row["day"], row["conversations"]) for row in report["trend"]] == [
        ("2026-10-24", 1),  # 23:59 BST
        ("2026-10-25", 3),  # 00:30 BST, 01:30 BST, 23:30 GMT: one 25-hour day
        ("2026-10-26", 1),
    ]
    assert report["period"]["previous"] == {"start": "2026-10-21", "end": "2026-10-23"}
