"""The weekly digest's text (pure): what moved, the lists, and customer text that cannot become markup."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from bot.experience.digest import (
    DigestSettings,
    DigestSettingsError,
    add_digest_command,
    digest_period,
    digest_settings,
    digest_text,
    movers,
)
from bot.experience.digest_job import due_this_week, week_key


def figure(label: str, unit: str, value: float | None, previous: float | None) -> dict[str, Any]:
    change = None if value is None or previous is None else round(value - previous, 2)
    return {"label": label, "unit": unit, "value": value, "previous": previous, "change": change}


def fixture_report(**extra: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "period": {"start": "2026-11-23", "end": "2026-11-29", "timezone": "Europe/London",
                   "previous": {"start": "2026-11-16", "end": "2026-11-22"}},
        "figures": {
            "conversations": figure("Conversations", "count", 380, 350),
            "containment": figure("Containment", "percent", 81.2, 80.9),
            "verified_resolution": figure("Verified resolution", "percent", 66.0, 71.5),
            "csat": figure("CSAT (satisfied)", "percent", 78.0, 84.0),
            "nps": figure("NPS", "score", 31.0, 19.0),
            "ces": figure("CES (average, 1–7)", "score", 5.61, 5.6),
            "handoff_rate": figure("Handoff rate", "percent", 24.5, 21.0),
            "people_resolution_median": figure("People time to resolution (median)", "seconds", 900.0, 600.0),
            "bot_first_response_median": figure("Bot first response (median)", "seconds", 1.2, 1.1),
            "csat_bot_only": figure("CSAT, bot only", "percent", 50.0, 90.0),  # a split: never a mover
            "waiting_now": figure("Waiting for a person now", "count", 2, None),
        },
        "handoff_reasons": [{"reason": "the customer asked for a person", "count": 41},
                            {"reason": "billing dispute (handled by people only)", "count": 12}],
        "top_unrecognised": [{"text": "is there an outage in leeds", "count": 9}],
        "detractor_comments": [{"kind": "csat", "score": 2,
                                "comment": "took far too long to get a real person",
                                "channel": "socketio", "conversation_id": "wc-1", "answered_at": "x",
                                "day": "2026-11-28"}],
        "waiting_now": 2,
    }  # fmt: skip
    report.update(extra)
    return report


EXPECTED = """\
*Hearthlink support digest: 23 Nov – 29 Nov 2026* (against 16 Nov – 22 Nov 2026)
Conversations 380 · Containment 81.2% · Verified resolution 66.0% · CSAT (satisfied) 78.0% · NPS +31

*What moved most*
• People time to resolution (median): 15 min (▲ 50%, worse, was 10 min)
• CSAT (satisfied): 78.0% (▼ 6.0 pts, worse, was 84.0%)
• NPS: +31 (▲ 12 pts, better, was +19)
• Verified resolution: 66.0% (▼ 5.5 pts, worse, was 71.5%)
• Handoff rate: 24.5% (▲ 3.5 pts, worse, was 21.0%)

*Why people were needed*
• the customer asked for a person: 41
• billing dispute (handled by people only): 12

*What the bot did not understand*
• “is there an outage in leeds” (9×)

*Unhappy customers said*
> took far too long to get a real person
   — CSAT 2 · Website chat · 2026-11-28

Waiting for a person right now: 2"""


def test_the_digest_of_a_known_week() -> None:
    assert digest_text(fixture_report()) == EXPECTED


def test_the_inbox_copy_is_the_same_without_slack_markup() -> None:
    plain = digest_text(fixture_report(), slack=False)
    assert (
        plain.splitlines()[0]
        == "Hearthlink support digest: 23 Nov – 29 Nov 2026 (against 16 Nov – 22 Nov 2026)"
    )
    assert "*" not in plain and "What moved most" in plain and "> took far too long" in plain


def test_what_moved_most_ranks_across_units_and_skips_noise() -> None:
    names = [move.name for move in movers(fixture_report())]
    assert names == [
        "people_resolution_median", "csat", "nps", "verified_resolution", "handoff_rate",
    ]  # fmt: skip
    # 0.3 points of containment, 0.01 of CES and 9 % of a 1-second median are not news; splits never are.
    assert not {"containment", "ces", "bot_first_response_median", "csat_bot_only"} & set(names)
    quiet = fixture_report(figures={"containment": figure("Containment", "percent", 80.0, 80.0)})
    assert "nothing moved much" in digest_text(quiet)


def test_an_empty_week_says_so() -> None:
    empty = fixture_report(handoff_reasons=[], top_unrecognised=[], detractor_comments=[], waiting_now=0)
    text = digest_text(empty)
    assert "• no handoffs" in text and "every message understood" in text and "no unhappy comments" in text
    assert "Waiting for a person" not in text


ATTACKS = [
    "<!channel> refund me now",
    "<!here|here> and <!everyone>",
    "ping <@U0123ABCD> and <!subteam^S0123>",
    "see <https://evil.example/login|your account> or <#C0123|general>",
    "@channel @here wake up",
    "my card is 4111 1111 1111 1111",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_customer_text_cannot_become_slack_markup(attack: str) -> None:
    report = fixture_report(
        top_unrecognised=[{"text": attack, "count": 3}],
        detractor_comments=[
            {"kind": "nps", "score": 0, "comment": attack, "channel": "twitter", "day": "2026-11-27"}
        ],
        handoff_reasons=[{"reason": attack, "count": 1}],
    )
    text = digest_text(report)
    assert "<" not in text and ">" not in text.replace("\n> ", "\n")  # our quote marks are the only ">"
    assert not re.search(r"(?<![\w.])@(channel|here|everyone)", text)  # neutralised with a word joiner
    assert "4111 1111 1111 1111" not in text  # redacted, also in Slack
    if "<" in attack:
        assert "&lt;" in text  # shown as the text the customer typed


def test_settings_name_the_key_that_is_wrong(tmp_path: Path) -> None:
    def written(section: str) -> Path:
        path = tmp_path / "business.yml"
        path.write_text(section, encoding="utf-8")
        return path

    assert digest_settings(written("business: {}\n")) == DigestSettings()
    chosen = digest_settings(
        written('digest:\n  slack_channel: "#support-leads"\n  weekday: Friday\n  time: "16:30"\n')
    )
    assert (chosen.slack_channel, chosen.weekday, chosen.at) == ("#support-leads", "fri", time(16, 30))
    for wrong, key in (("weekday: someday", "digest.weekday"), ('time: "9am"', "digest.time"),
                       ("days: 0", "digest.days"), ("enabled: maybe", "digest.enabled")):  # fmt: skip
        with pytest.raises(DigestSettingsError, match=re.escape(key)):
            digest_settings(written(f"digest:\n  {wrong}\n"))
    shipped = digest_settings(Path(__file__).resolve().parents[1] / "business.yml")
    assert shipped.enabled and shipped.weekday == "mon" and shipped.at == time(9, 0) and shipped.days == 7


def test_the_period_is_the_last_full_days_and_the_week_is_local() -> None:
    monday_morning = datetime(2026, 11, 30, 8, 59, tzinfo=UTC)
    assert digest_period(7, monday_morning, "Europe/London") == (date(2026, 11, 23), date(2026, 11, 29))
    settings = DigestSettings(weekday="mon", at=time(9, 0))
    assert due_this_week(monday_morning, settings, "Europe/London") is None
    assert due_this_week(datetime(2026, 11, 30, 9, 0, tzinfo=UTC), settings, "Europe/London") == date(
        2026, 11, 30
    )
    assert due_this_week(datetime(2026, 12, 6, 23, 0, tzinfo=UTC), settings, "Europe/London") == date(
        2026, 11, 30
    )
    # Sunday 23:30 UTC is already Monday in Auckland: a new week there.
    late = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert week_key(late, "Europe/London") == "2026-W48" and week_key(late, "Pacific/Auckland") == "2026-W49"


def test_the_command_is_added_with_its_options() -> None:
    parser = argparse.ArgumentParser()
    add_digest_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["digest", "--days", "14", "--send"])
    assert (args.days, args.send, args.func.__name__) == (14, True, "cmd_digest")
