"""The report's numbers as files a spreadsheet or a script reads: CSV tables and the JSON of the report dict.

The same dict the HTML report draws, so the exports and the page can never disagree:

- ``report.json`` — the report dict itself (bot/experience/report.py ``build_report``);
- ``figures.csv`` — one row per figure: value, previous period, change, unit;
- ``breakdowns.csv`` — long format: breakdown (channel, intent, handoff_reason, agent), key,
  figure, value;
- ``trend.csv`` — one row per local day, one column per figure in the trend;
- ``handoff_reasons.csv``, ``top_unrecognised.csv``, ``detractor_comments.csv``.

Customer text (intents, reasons, questions, comments) may start with ``=``, ``+``, ``-`` or
``@``, which a spreadsheet would run as a formula (CSV injection): such a text cell is
written with a leading ``'``. Numbers are written as numbers, an unknown value as an empty cell.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

Report = dict[str, Any]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FILES = (
    "report.json",
    "figures.csv",
    "breakdowns.csv",
    "trend.csv",
    "handoff_reasons.csv",
    "top_unrecognised.csv",
    "detractor_comments.csv",
)


def text_cell(value: object) -> str:
    """A text cell no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def number_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return text_cell(value)
    return repr(value) if isinstance(value, float) else str(value)


def _csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def figures_csv(report: Report) -> str:
    return _csv(
        ("figure", "label", "unit", "value", "previous", "change"),
        (
            (
                name,
                text_cell(f.get("label")),
                text_cell(f.get("unit")),
                number_cell(f.get("value")),
                number_cell(f.get("previous")),
                number_cell(f.get("change")),
            )
            for name, f in report["figures"].items()
        ),
    )


def breakdowns_csv(report: Report) -> str:
    return _csv(
        ("breakdown", "key", "figure", "value"),
        (
            (breakdown, text_cell(row.get("key")), name, number_cell(value))
            for breakdown, rows in report.get("breakdowns", {}).items()
            for row in rows
            for name, value in (row.get("figures") or {}).items()
        ),
    )


def trend_csv(report: Report) -> str:
    trend = report.get("trend", [])
    names: list[str] = []
    for row in trend:
        names += [name for name in row if name != "day" and name not in names]
    return _csv(
        ("day", *names), ((row["day"], *(number_cell(row.get(name)) for name in names)) for row in trend)
    )


def handoff_reasons_csv(report: Report) -> str:
    rows = report.get("handoff_reasons", [])
    return _csv(
        ("reason", "count"), ((text_cell(r.get("reason")), number_cell(r.get("count"))) for r in rows)
    )


def top_unrecognised_csv(report: Report) -> str:
    rows = report.get("top_unrecognised", [])
    return _csv(("text", "count"), ((text_cell(r.get("text")), number_cell(r.get("count"))) for r in rows))


def detractor_comments_csv(report: Report) -> str:
    columns = ("answered_at", "channel", "kind", "score", "comment", "conversation_id")
    return _csv(
        columns,
        (
            tuple(number_cell(row.get(c)) if c == "score" else text_cell(row.get(c)) for c in columns)
            for row in report.get("detractor_comments", [])
        ),
    )


def report_json(report: Report) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def export_texts(report: Report) -> dict[str, str]:
    """Every export file's name and text (pure: the CLI and the tests write or read them)."""
    return {
        "report.json": report_json(report),
        "figures.csv": figures_csv(report),
        "breakdowns.csv": breakdowns_csv(report),
        "trend.csv": trend_csv(report),
        "handoff_reasons.csv": handoff_reasons_csv(report),
        "top_unrecognised.csv": top_unrecognised_csv(report),
        "detractor_comments.csv": detractor_comments_csv(report),
    }


def write_exports(report: Report, directory: Path) -> list[Path]:
    """Write every export into ``directory`` (made if missing); the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in export_texts(report).items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
