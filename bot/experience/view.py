"""What the report page shows, in which order and how each number is written: report dict in, page model out.

One model for both pages: the self-contained HTML report (bot/experience/html_report.py)
renders it in Python, the dashboard (bot/experience/dashboard.py) sends it as JSON and its
script puts every string into text nodes. So a number is formatted once, here, and reads
the same in the file, on the dashboard and in the tests.

Every number carries its raw value next to the text (``value`` beside ``text``): the pages
write it into ``data-value`` and name it with ``data-figure`` (plus ``data-key`` in a
breakdown row, ``data-part`` for the previous period and the change), so a test can check
the page against the database without parsing "1 min 5 s" back.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from bot.experience.charts import CONFIG, chart_figures, chart_titles

Report = dict[str, Any]

HEADLINE = (
    "conversations",
    "containment",
    "verified_resolution",
    "durable_resolution",
    "reopen_rate",
    "handoff_rate",
    "csat",
    "nps",
    "ces",
    "bot_first_response_median",
    "people_first_reply_median",
    "waiting_now",
)
# Lower is better for these (the change is drawn green when it goes down); others: higher is better.
LOWER_IS_BETTER = frozenset(
    {
        "reopen_rate",
        "abandoned_rate",
        "handoff_rate",
        "fallback_rate",
        "bot_first_response_median",
        "people_first_reply_median",
        "handoff_claim_median",
        "bot_resolution_median",
        "people_resolution_median",
        "handoff_claim_median_business_hours",
        "people_resolution_median_business_hours",
        "waiting_now",
    }
)
NEUTRAL = frozenset({"conversations", "involvement"})  # more or fewer is neither good nor bad

BREAKDOWNS = {
    "channel": (
        "By channel",
        (
            "conversations",
            "containment",
            "verified_resolution",
            "durable_resolution",
            "reopen_rate",
            "abandoned_rate",
            "handoff_rate",
            "fallback_rate",
            "csat",
            "nps",
            "ces",
            "bot_first_response_median",
            "people_first_reply_median",
        ),
    ),
    "intent": (
        "By intent",
        (
            "conversations",
            "containment",
            "verified_resolution",
            "durable_resolution",
            "reopen_rate",
            "handoff_rate",
            "fallback_rate",
            "csat",
            "nps",
            "ces",
        ),
    ),
    "handoff_reason": (
        "By handoff reason",
        (
            "conversations",
            "handoff_claim_median",
            "people_first_reply_median",
            "people_resolution_median",
            "reopen_rate",
            "csat",
            "nps",
            "ces",
        ),
    ),
    "agent": (
        "By agent",
        (
            "conversations",
            "handoff_claim_median",
            "people_first_reply_median",
            "people_resolution_median",
            "reopen_rate",
            "csat_after_person",
            "nps_after_person",
            "ces_after_person",
        ),
    ),
}
MISSING = "—"


def number_text(value: float | None, unit: str) -> str:
    """A figure as a support lead reads it: ``62.5%``, ``+12.0``, ``1 min 5 s``, ``1,204``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "seconds":
        return duration_text(value)
    if unit == "score":
        return score_text(value)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def change_text(change: float | None, unit: str) -> str:
    """The change against the previous period, signed: ``+3.2 pts``, ``-12 s``, ``+40``."""
    if change is None:
        return MISSING
    if unit == "percent":
        return f"{change:+.1f} pts"
    if unit == "seconds":
        sign = "+" if change > 0 else ("-" if change < 0 else "±")
        return sign + duration_text(abs(change))
    if unit == "score":
        return score_text(change, signed=True)
    return f"{change:+,.0f}" if float(change).is_integer() else f"{change:+,.1f}"


def score_text(value: float, *, signed: bool = False) -> str:
    """NPS has one decimal, CES two: ``12.5``, ``5.25``, ``5.0`` (at most 2 decimals, at least 1)."""
    text = f"{value:+.2f}" if signed else f"{value:.2f}"
    return text[:-1] if text.endswith("0") else text


def duration_text(seconds: float) -> str:
    """``0.8 s``, ``42.0 s``, ``3 min 5 s``, ``2 h 10 min``, ``3 d 4 h``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"


def direction(name: str, change: float | None) -> str:
    """``better``, ``worse``, ``same`` or ``none`` (no change known, or a neutral count)."""
    if change is None or name in NEUTRAL:
        return "none"
    if change == 0:
        return "same"
    up_is_good = name not in LOWER_IS_BETTER
    return "better" if (change > 0) == up_is_good else "worse"


def figure_view(report: Report, name: str) -> dict[str, Any]:
    figure = report["figures"].get(name) or {}
    unit = str(figure.get("unit", "count"))
    value, previous, change = figure.get("value"), figure.get("previous"), figure.get("change")
    return {
        "name": name,
        "label": str(figure.get("label", name)),
        "unit": unit,
        "value": value,
        "text": number_text(value, unit),
        "previous": previous,
        "previous_text": number_text(previous, unit),
        "change": change,
        "change_text": change_text(change, unit),
        "direction": direction(name, change),
    }


def breakdown_view(report: Report, name: str) -> dict[str, Any]:
    """One breakdown table: the columns that have a value in some row, one row per key."""
    title, wanted = BREAKDOWNS[name]
    rows = list(report.get("breakdowns", {}).get(name) or [])
    rows.sort(key=lambda row: (-((row.get("figures") or {}).get("conversations") or 0), str(row.get("key"))))
    present = {key for row in rows for key, value in (row.get("figures") or {}).items() if value is not None}
    columns = [column for column in wanted if column in present]
    figures = report["figures"]

    def unit(column: str) -> str:
        return str((figures.get(column) or {}).get("unit", "count"))

    return {
        "name": name,
        "title": title,
        "columns": [
            {"name": column, "label": str((figures.get(column) or {}).get("label", column))}
            for column in columns
        ],
        "rows": [
            {
                "key": str(row.get("key")),
                "cells": [
                    {
                        "name": column,
                        "value": (row.get("figures") or {}).get(column),
                        "text": number_text((row.get("figures") or {}).get(column), unit(column)),
                    }
                    for column in columns
                ],
            }
            for row in rows
        ],
    }


def period_text(report: Report) -> dict[str, str]:
    period = report["period"]
    previous = period.get("previous") or {}
    return {
        "current": f"{period['start']} to {period['end']}",
        "previous": f"{previous.get('start')} to {previous.get('end')}" if previous else MISSING,
        "timezone": str(period.get("timezone", "UTC")),
        "generated_at": _minute(str(report.get("generated_at", ""))),
    }


def _minute(stamp: str) -> str:
    """``2026-12-01T20:59:24.837734+00:00`` as ``2026-12-01 20:59 UTC`` (what a reader needs)."""
    try:
        moment = datetime.fromisoformat(stamp).astimezone(UTC)
    except ValueError:
        return stamp
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def page_model(report: Report) -> dict[str, Any]:
    """Everything either page shows, as JSON-ready values and ready-made texts."""
    figures = report["figures"]
    titles = chart_titles()
    return {
        "period": period_text(report),
        "headline": [figure_view(report, name) for name in HEADLINE if name in figures],
        "figures": [figure_view(report, name) for name in figures],
        "breakdowns": [breakdown_view(report, name) for name in BREAKDOWNS],
        "handoff_reasons": [
            {
                "reason": str(row.get("reason")),
                "count": row.get("count"),
                "text": number_text(row.get("count"), "count"),
            }
            for row in report.get("handoff_reasons", [])
        ],
        "top_unrecognised": [
            {
                "text": str(row.get("text")),
                "count": row.get("count"),
                "count_text": number_text(row.get("count"), "count"),
            }
            for row in report.get("top_unrecognised", [])
        ],
        "detractor_comments": [
            {
                "kind": str(row.get("kind", "")).upper(),
                "score": row.get("score"),
                "score_text": number_text(row.get("score"), "count"),
                "comment": str(row.get("comment") or ""),
                "channel": str(row.get("channel") or ""),
                "conversation_id": str(row.get("conversation_id") or ""),
                "answered_at": str(row.get("answered_at") or ""),
            }
            for row in report.get("detractor_comments", [])
        ],
        "chart_config": CONFIG,
        "charts": [
            {"name": name, "title": titles[name], "figure": figure}
            for name, figure in chart_figures(report).items()
        ],
    }
