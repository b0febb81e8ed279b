"""The report's renderers on a hand-made report dict: charts, the self-contained HTML file, the exports.

The dict follows the shared contract (/tmp/team/BRIEF.md, "The report dict"); its customer
text is hostile on purpose: a comment that closes the script block and opens another, an
intent name and a handoff reason with markup. These tests need no database and no browser
(the browser and the database checks are in tests/test_experience_report_browser.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bot.experience import charts, exports
from bot.experience.html_report import json_for_script, plotly_js, render_html, script_hash
from bot.experience.view import change_text, duration_text, number_text, page_model

FIGURE_UNITS = {
    "conversations": "count",
    "involvement": "percent",
    "containment": "percent",
    "verified_resolution": "percent",
    "durable_resolution": "percent",
    "reopen_rate": "percent",
    "abandoned_rate": "percent",
    "handoff_rate": "percent",
    "fallback_rate": "percent",
    "csat": "percent",
    "nps": "score",
    "ces": "score",
    "csat_response_rate": "percent",
    "nps_response_rate": "percent",
    "ces_response_rate": "percent",
    "csat_bot_only": "percent",
    "csat_after_person": "percent",
    "nps_bot_only": "score",
    "nps_after_person": "score",
    "ces_bot_only": "score",
    "ces_after_person": "score",
    "bot_first_response_median": "seconds",
    "people_first_reply_median": "seconds",
    "handoff_claim_median": "seconds",
    "bot_resolution_median": "seconds",
    "people_resolution_median": "seconds",
    "handoff_claim_median_business_hours": "seconds",
    "people_resolution_median_business_hours": "seconds",
    "waiting_now": "count",
}
SCRIPT_ATTACK = "</script><script>window.pwned=1</script><!--"
MARKUP_ATTACK = '<img src=x onerror="window.pwned=2">'


def sample_report() -> dict[str, Any]:
    """A report as build_report returns it, with hostile customer text in every text field."""
    figures: dict[str, Any] = {}
    for n, (name, unit) in enumerate(FIGURE_UNITS.items()):
        value = {"count": 120.0 + n, "percent": 40.0 + n, "score": 4.5 + n / 10, "seconds": 2.5 + 60 * n}[
            unit
        ]
        previous = None if name == "ces" else value - 3
        change = None if previous is None else value - previous
        figures[name] = {
            "label": name.replace("_", " ").capitalize(),
            "unit": unit,
            "value": value,
            "previous": previous,
            "change": change,
        }
    figures["people_resolution_median_business_hours"]["value"] = None
    figures["people_resolution_median_business_hours"]["change"] = None
    row = {
        "conversations": 10,
        "containment": 50.0,
        "verified_resolution": 40.0,
        "durable_resolution": 30.0,
        "handoff_rate": 20.0,
        "fallback_rate": 10.0,
        "csat": 80.0,
        "nps": 12.5,
        "ces": 5.5,
        "bot_first_response_median": 0.8,
        "people_first_reply_median": 95.0,
        "handoff_claim_median": 61.0,
        "people_resolution_median": 900.0,
        "reopen_rate": 5.0,
    }
    return {
        "period": {
            "start": "2026-11-01",
            "end": "2026-11-30",
            "timezone": "Europe/London",
            "previous": {"start": "2026-10-02", "end": "2026-10-31"},
        },
        "generated_at": "2026-12-01T08:00:00+00:00",
        "figures": figures,
        "breakdowns": {
            "channel": [
                {"key": "webchat", "figures": row},
                {"key": "x", "figures": {**row, "conversations": 4}},
            ],
            "intent": [
                {"key": "order_status", "figures": row},
                {"key": MARKUP_ATTACK, "figures": {**row, "conversations": 1, "csat": None}},
            ],
            "handoff_reason": [{"key": MARKUP_ATTACK, "figures": row}],
            "agent": [{"key": "Alex", "figures": {**row, "csat_after_person": 75.0}}],
        },
        "trend": [
            {
                "day": f"2026-11-{day:02d}",
                "csat": 70.0 + day % 7,
                "nps": -10.0 + day,
                "containment": 60.0 + day % 5,
                "verified_resolution": 50.0 + day % 4,
                "durable_resolution": None if day > 23 else 45.0,
                "conversations": 10 + day,
            }
            for day in range(1, 31)
        ],
        "distributions": {
            "bot_first_response_seconds": [0.4, 0.6, 0.8, 1.1, 2.0],
            "agent_first_reply_seconds": [40.0, 95.0, 130.0, 600.0],
            "bot_resolution_seconds": [30.0, 60.0, 90.0],
            "people_resolution_seconds": [600.0, 900.0, 3600.0],
        },
        "handoff_reasons": [
            {"reason": "asked for a person", "count": 7},
            {"reason": MARKUP_ATTACK, "count": 2},
        ],
        "top_unrecognised": [
            {"text": "can I pay with [CARD]?", "count": 3},
            {"text": SCRIPT_ATTACK, "count": 1},
        ],
        "detractor_comments": [
            {
                "kind": "nps",
                "score": 2,
                "comment": SCRIPT_ATTACK,
                "channel": "webchat",
                "conversation_id": "wc-1",
                "answered_at": "2026-11-20T10:00:00",
            },
            {
                "kind": "csat",
                "score": 1,
                "comment": MARKUP_ATTACK + " & more",
                "channel": "x",
                "conversation_id": "x-2",
                "answered_at": "2026-11-21T10:00:00",
            },
        ],
        "waiting_now": 3,
    }


class Page(HTMLParser):
    """The parts of a page the tests read: elements with data-figure, scripts, URLs in attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: list[dict[str, Any]] = []
        self.scripts: list[dict[str, str | None]] = []
        self.urls: list[str] = []
        self.tags: list[str] = []
        self._open: list[dict[str, Any]] = []
        self._script: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "action", "srcset", "poster", "data") and value:
                self.urls.append(value)
        if tag == "script":
            self._script = {**attributes, "text": ""}
            self.scripts.append(self._script)
        if "data-figure" in attributes:
            item = {**attributes, "text": ""}
            self.figures.append(item)
            self._open.append(item)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None
        if self._open:  # an element with data-figure holds text only: the next end tag is its own
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script["text"] += data
        for item in self._open:
            item["text"] += data

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def parse(page: str) -> Page:
    parsed = Page()
    parsed.feed(page)
    return parsed


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(sample_report())


# --- charts -----------------------------------------------------------------------------------


def test_every_chart_is_plotly_json_drawn_from_the_report() -> None:
    report = sample_report()
    figures = charts.chart_figures(report)
    assert list(figures) == list(charts.CHARTS)
    json.dumps(figures)  # plain JSON, nothing plotly-specific left
    trend = figures["satisfaction_trend"]["data"]
    assert [trace["name"] for trace in trend] == ["Csat", "Nps"]
    assert trend[0]["y"] == [row["csat"] for row in report["trend"]]
    assert trend[1]["yaxis"] == "y2"  # NPS runs -100..100 on its own axis
    resolution = figures["resolution_trend"]["data"]
    assert [t["name"] for t in resolution] == ["Containment", "Verified resolution", "Durable resolution"]
    assert resolution[2]["y"][-1] is None  # a day without a durable answer yet is a gap, not a zero
    first = figures["first_response_times"]["data"]
    assert first[0]["x"] == report["distributions"]["bot_first_response_seconds"]
    assert first[1]["x"] == report["distributions"]["agent_first_reply_seconds"]
    assert figures["first_response_times"]["layout"]["xaxis"]["type"] == "log"
    reasons = figures["handoff_reasons"]["data"][0]
    assert reasons["x"] == [2, 7] and reasons["y"][1] == "asked for a person"
    channel = figures["by_channel"]["data"]
    assert channel[0]["x"] == ["webchat", "x"] and channel[0]["y"] == [50.0, 50.0]


def test_chart_labels_from_customers_are_escaped_for_plotly() -> None:
    figures = charts.chart_figures(sample_report())
    text = json.dumps(figures)
    assert "<img" not in text and "&lt;img src=x" in text


def test_an_empty_report_still_draws_every_chart_with_a_note() -> None:
    report = sample_report()
    report.update(trend=[], distributions={}, handoff_reasons=[], breakdowns={})
    for name, figure in charts.chart_figures(report).items():
        notes = [note["text"] for note in figure["layout"].get("annotations", [])]
        assert notes == [charts.EMPTY], name


# --- formatting ---------------------------------------------------------------------------------


def test_numbers_are_written_the_way_a_support_lead_reads_them() -> None:
    assert number_text(62.5, "percent") == "62.5%"
    assert number_text(None, "percent") == "—"
    assert number_text(1204.0, "count") == "1,204"
    assert number_text(-12.0, "score") == "-12.0" and number_text(5.25, "score") == "5.25"
    assert change_text(0.5, "score") == "+0.5" and change_text(-1.25, "score") == "-1.25"
    assert duration_text(0.8) == "0.8 s" and duration_text(65) == "1 min 5 s"
    assert duration_text(7800) == "2 h 10 min" and duration_text(3 * 86400 + 4 * 3600) == "3 d 4 h"
    assert change_text(3.25, "percent") == "+3.2 pts" and change_text(-12.0, "seconds") == "-12.0 s"
    assert change_text(0.0, "seconds") == "±0.0 s" and change_text(40.0, "count") == "+40"


# --- the HTML file ------------------------------------------------------------------------------


def test_the_report_is_self_contained(page: str) -> None:
    parsed = parse(page)
    assert parsed.urls == []  # no src/href at all: nothing to fetch, nothing to follow
    assert not re.search(r"https?://", page.replace(plotly_js(), ""))  # no URL outside the bundle
    assert page.count(plotly_js()) == 1  # plotly.js embedded once, inline
    assert not any("src" in script for script in parsed.scripts)
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy and "default-src 'none'" in policy.group(1)  # the browser may fetch nothing


def test_only_the_two_report_scripts_may_run(page: str) -> None:
    parsed = parse(page)
    policy = re.search(r'content="(default-src[^"]+)"', page).group(1)
    runnable = [script for script in parsed.scripts if script.get("type") != "application/json"]
    assert len(runnable) == 2
    allowed = set(re.findall(r"'sha256-[^']+'", policy))
    assert allowed == {script_hash(str(script["text"])) for script in runnable}
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


def test_customer_text_is_shown_as_text_never_as_markup(page: str) -> None:
    parsed = parse(page)
    assert parsed.tags.count("script") == 3  # data block, plotly.js, drawing: none from the comment
    assert "img" not in parsed.tags
    assert "&lt;/script&gt;&lt;script&gt;window.pwned=1&lt;/script&gt;&lt;!--" in page
    assert "&lt;img src=x onerror=&quot;window.pwned=2&quot;&gt; &amp; more" in page
    data = next(script for script in parsed.scripts if script.get("type") == "application/json")
    assert "<" not in str(data["text"]) and json.loads(str(data["text"]))["charts"]  # still valid JSON


def test_json_in_a_script_block_cannot_close_it() -> None:
    text = json_for_script({"comment": SCRIPT_ATTACK, "and": "a & b"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"comment": SCRIPT_ATTACK, "and": "a & b"}


def test_every_number_on_the_page_carries_its_figure_and_raw_value(page: str) -> None:
    report = sample_report()
    parsed = parse(page)
    seen: dict[tuple[str, str, str], str] = {}
    for element in parsed.figures:
        name = element["data-figure"]
        raw = element["data-value"]
        value = json.loads(raw) if raw else None
        if "data-breakdown" in element:
            row = next(
                r for r in report["breakdowns"][element["data-breakdown"]] if r["key"] == element["data-key"]
            )
            assert value == row["figures"].get(name), element
            seen[(element["data-breakdown"], element["data-key"], name)] = element["text"]
        elif name == "handoff_reason_count":
            assert value == next(
                r["count"] for r in report["handoff_reasons"] if r["reason"] == element["data-key"]
            )
        elif name == "unrecognised_count":
            assert value == next(
                r["count"] for r in report["top_unrecognised"] if r["text"] == element["data-key"]
            )
        elif name == "detractor_score":
            assert value == next(
                r["score"]
                for r in report["detractor_comments"]
                if r["conversation_id"] == element["data-key"]
            )
        else:
            assert value == report["figures"][name][element["data-part"]], element
            unit = report["figures"][name]["unit"]
            shown = change_text(value, unit) if element["data-part"] == "change" else number_text(value, unit)
            assert element["text"] == shown
    names = {e["data-figure"] for e in parsed.figures if e.get("data-part")}
    assert names == set(FIGURE_UNITS)  # every figure appears in the all-figures table
    assert seen[("intent", MARKUP_ATTACK, "conversations")] == "1"
    # A column nobody has a value for is left out (the intent rows have no median times).
    assert ("intent", "order_status", "people_resolution_median") not in seen
    assert ("channel", "webchat", "bot_first_response_median") in seen


def test_the_headline_shows_the_change_against_the_previous_period() -> None:
    model = page_model(sample_report())
    containment = next(f for f in model["headline"] if f["name"] == "containment")
    assert containment["change_text"] == "+3.0 pts" and containment["direction"] == "better"
    handoffs = next(f for f in model["headline"] if f["name"] == "handoff_rate")
    assert handoffs["direction"] == "worse"  # more handoffs than before
    ces = next(f for f in model["headline"] if f["name"] == "ces")
    assert ces["change_text"] == "—" and ces["direction"] == "none"


# --- exports ------------------------------------------------------------------------------------


def test_the_exports_hold_the_same_numbers(tmp_path: Path) -> None:
    report = sample_report()
    written = exports.write_exports(report, tmp_path)
    assert sorted(path.name for path in written) == sorted(exports.FILES)
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8")) == report
    figures = list(csv.DictReader(io.StringIO((tmp_path / "figures.csv").read_text(encoding="utf-8"))))
    assert [row["figure"] for row in figures] == list(report["figures"])
    nps = next(row for row in figures if row["figure"] == "nps")
    assert float(nps["value"]) == report["figures"]["nps"]["value"]
    assert float(nps["change"]) == report["figures"]["nps"]["change"]
    empty = next(row for row in figures if row["figure"] == "people_resolution_median_business_hours")
    assert empty["value"] == ""
    breakdowns = list(csv.DictReader(io.StringIO((tmp_path / "breakdowns.csv").read_text(encoding="utf-8"))))
    webchat = {
        r["figure"]: r["value"] for r in breakdowns if r["breakdown"] == "channel" and r["key"] == "webchat"
    }
    assert float(webchat["containment"]) == 50.0
    trend = list(csv.DictReader(io.StringIO((tmp_path / "trend.csv").read_text(encoding="utf-8"))))
    assert len(trend) == 30 and float(trend[0]["csat"]) == report["trend"][0]["csat"]
    assert trend[-1]["durable_resolution"] == ""


def test_customer_text_cannot_become_a_spreadsheet_formula(tmp_path: Path) -> None:
    report = sample_report()
    report["top_unrecognised"].append({"text": '=HYPERLINK("http://evil.example","x")', "count": 1})
    report["breakdowns"]["intent"].append({"key": "+cmd|' /C calc'!A0", "figures": {"conversations": 1}})
    exports.write_exports(report, tmp_path)
    unrecognised = list(
        csv.reader(io.StringIO((tmp_path / "top_unrecognised.csv").read_text(encoding="utf-8")))
    )
    assert unrecognised[-1][0].startswith("'=HYPERLINK")
    breakdowns = (tmp_path / "breakdowns.csv").read_text(encoding="utf-8")
    assert "'+cmd|" in breakdowns and "\n+cmd" not in breakdowns
