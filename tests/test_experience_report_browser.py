"""The README's report command on a demo month, opened in a real browser and checked against the database.

A demo month (bot/experience/demo.py) is written into a fresh SQLite tracker store and
database, with one hostile detractor comment added; ``python -m bot report`` (a real
subprocess, as the README runs it) writes the files; headless Chromium opens report.html
from disk. Then:

- nothing is fetched (every request the page makes is the file itself) and nothing breaks
  the Content-Security-Policy; the comment's ``</script><script>`` never runs;
- every chart is drawn: plotly's trace elements are there with real paths, and each
  chart's screenshot holds the chart's own trace colours, not one flat colour;
- every number on the page (``data-figure``) equals an independent recomputation from the
  databases (tests/support/recompute.py, which shares no code with bot.experience): the
  headline and all-figures values for this and the previous period, the changes, and the
  per-channel conversation counts and handoff rates; the other breakdown cells equal the
  report's JSON export.

Chromium is the system one (tests/test_webchat_browser.py ``chromium``: skipped locally
without it, a failure under CI=true). Run under the heavy lock.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.experience.charts import COLOURS
from bot.experience.view import change_text, number_text
from tests.support import ROOT
from tests.support.bot import write_business_file
from tests.support.recompute import Hours, headline, load_conversations
from tests.test_experience_report import SCRIPT_ATTACK
from tests.test_webchat_browser import chromium  # noqa: F401  (the fixture: Chromium, or skip / fail in CI)

TIMEZONE = "Europe/London"
OFFICE = {
    "timezone": TIMEZONE,
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "open": "09:00",
    "close": "17:30",
}
CHART_COLOURS = {
    "satisfaction_trend": ("csat", "nps"),
    "resolution_trend": ("containment", "verified_resolution", "durable_resolution"),
    "first_response_times": ("bot", "people"),
    "resolution_times": ("bot", "people"),
    "handoff_reasons": ("handoff_rate",),
    "by_channel": ("containment", "verified_resolution", "durable_resolution", "csat"),
    "by_intent": ("containment", "verified_resolution", "handoff_rate", "fallback_rate"),
}
# What the page's script reads: every element with data-figure, as the browser parsed it.
FIGURES_ON_PAGE = """() => [...document.querySelectorAll('[data-figure]')].map((e) => ({
  figure: e.dataset.figure, part: e.dataset.part || null, breakdown: e.dataset.breakdown || null,
  key: e.dataset.key ?? null, value: e.dataset.value, text: e.textContent}))"""
WATCH_CSP = """document.addEventListener('securitypolicyviolation', (e) => {
  (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI);
});"""


@dataclass(frozen=True)
class DemoMonth:
    data: Path
    database_url: str
    tracker_url: str
    endpoints: Path
    business: Path

    @property
    def env(self) -> dict[str, str]:
        ours = {"SUPPORTBOT_DATABASE_URL": self.database_url, "SUPPORTBOT_DATA_DIR": str(self.data),
                "SUPPORTBOT_BUSINESS_FILE": str(self.business),
                "SUPPORTBOT_ENVIRONMENT": "development"}  # fmt: skip
        return {**os.environ, **ours}


def office_hours() -> Hours:
    return Hours(TIMEZONE, tuple(OFFICE["days"]), OFFICE["open"], OFFICE["close"])


def make_demo_month(data: Path, *, conversations: int = 450) -> DemoMonth:
    """A demo month ending now (office hours in London), plus one detractor whose comment attacks the page."""
    from bot.db import Database
    from bot.experience.demo import generate
    from bot.migrations import upgrade
    from bot.surveys.models import SurveyRequest

    business = write_business_file(data / "business.yml", business_hours=OFFICE)
    database = f"sqlite:///{data / 'customers.db'}"
    tracker = f"sqlite:///{data / 'tracker.db'}"
    upgrade(database)
    endpoints = data / "endpoints.yml"
    endpoints.write_text(
        f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {data / 'tracker.db'}\n", encoding="utf-8"
    )
    previous = os.environ.get("SUPPORTBOT_BUSINESS_FILE")
    os.environ["SUPPORTBOT_BUSINESS_FILE"] = str(business)  # generate() reads the opening hours
    try:
        generate(database_url=database, tracker_url=tracker, seed=11, days=30, conversations=conversations,
                 progress=lambda _line: None)  # fmt: skip
    finally:
        os.environ["SUPPORTBOT_BUSINESS_FILE"] = previous or ""
        if previous is None:
            del os.environ["SUPPORTBOT_BUSINESS_FILE"]
    asked = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=2)
    with Database(database).session() as session:
        session.add(
            SurveyRequest(
                conversation_key="demo-attack@1", conversation_id="demo-attack",
                customer_key="sender:demo-attack",
                channel="socketio", kind="nps", trigger="bot_resolved", intents=["greet"], status="answered",
                score=1, comment=SCRIPT_ATTACK, asked_at=asked, answered_at=asked + timedelta(minutes=1),
            )
        )  # fmt: skip
    return DemoMonth(data, database, tracker, endpoints, business)


@pytest.fixture(scope="module")
def demo_month(tmp_path_factory: pytest.TempPathFactory) -> DemoMonth:
    return make_demo_month(tmp_path_factory.mktemp("report-demo"))


@pytest.fixture(scope="module")
def written(demo_month: DemoMonth, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m bot report --days 30 --out DIR``, as the README runs it."""
    out = tmp_path_factory.mktemp("report-out")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "report", "--days", "30", "--out", str(out),
         "--endpoints", str(demo_month.endpoints)],
        cwd=ROOT, env=demo_month.env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"==> wrote the report: {out / 'report.html'}" in done.stdout
    assert "Traceback" not in done.stderr
    return out


# --- the independent figures ------------------------------------------------------------------


def recomputed(demo: DemoMonth, report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """tests/support/recompute.py's figures for the report's period and the previous one, at its time."""
    now = datetime.fromisoformat(report["generated_at"])
    period = report["period"]
    figures = {}
    for part, span in (("value", period), ("previous", period["previous"])):
        figures[part] = headline(
            demo.tracker_url, demo.database_url, date.fromisoformat(span["start"]),
            date.fromisoformat(span["end"]), now=now, hours=office_hours(),
        )  # fmt: skip
    figures["previous"]["waiting_now"] = None  # "now" has no previous period
    return figures


def channels_recomputed(demo: DemoMonth, report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per channel, from recompute's conversations: how many, and the share handed to a person."""
    from zoneinfo import ZoneInfo

    conversations, _surveys, _waiting = load_conversations(demo.tracker_url, demo.database_url)
    first, last = (date.fromisoformat(report["period"][edge]) for edge in ("start", "end"))
    zone = ZoneInfo(TIMEZONE)
    found: dict[str, dict[str, Any]] = {}
    for conv in conversations:
        if first <= datetime.fromtimestamp(conv.started, zone).date() <= last:
            counts = found.setdefault(conv.channel, {"conversations": 0, "handed": 0})
            counts["conversations"] += 1
            counts["handed"] += conv.handoff is not None
    return {
        channel: {"conversations": c["conversations"],
                  "handoff_rate": round(100.0 * c["handed"] / c["conversations"], 1)}
        for channel, c in found.items()
    }  # fmt: skip


def check_page_against_database(
    shown: list[dict[str, Any]], report: dict[str, Any], demo: DemoMonth
) -> dict[str, int]:
    """Every number on the page against the recomputation (or, for the rest of the breakdowns, the JSON)."""
    expected = recomputed(demo, report)
    channels = channels_recomputed(demo, report)
    units = {name: figure["unit"] for name, figure in report["figures"].items()}
    checked = {"independent": 0, "breakdown": 0, "lists": 0}
    names = set()
    for element in shown:
        name, part, raw = element["figure"], element["part"], element["value"]
        value = json.loads(raw) if raw else None
        where = f"{name} {part or ''} {element['breakdown'] or ''} {element['key'] or ''}"
        if part in ("value", "previous"):
            assert value == expected[part][name], where
            assert element["text"] == number_text(value, units[name]), where
            names.add(name)
            checked["independent"] += 1
        elif part == "change":
            now, before = expected["value"][name], expected["previous"][name]
            if now is None or before is None:
                assert value is None, where
            else:
                assert value == pytest.approx(now - before, abs=0.051), where
            assert element["text"] == change_text(value, units[name]), where
            checked["independent"] += 1
        elif element["breakdown"]:
            row = next(r for r in report["breakdowns"][element["breakdown"]] if r["key"] == element["key"])
            assert value == row["figures"][name], where
            assert element["text"] == number_text(value, units[name]), where
            if element["breakdown"] == "channel" and name in ("conversations", "handoff_rate"):
                assert value == channels[element["key"]][name], where
                checked["independent"] += 1
            checked["breakdown"] += 1
        else:
            rows = {"handoff_reason_count": ("handoff_reasons", "reason", "count"),
                    "unrecognised_count": ("top_unrecognised", "text", "count"),
                    "detractor_score": ("detractor_comments", "conversation_id", "score")}[name]  # fmt: skip
            listed, key, field = rows
            assert value in [r[field] for r in report[listed] if r[key] == element["key"]], where
            checked["lists"] += 1
    assert names == set(report["figures"])  # every figure is on the page
    assert set(channels) == {row["key"] for row in report["breakdowns"]["channel"]}
    return checked


def test_the_report_json_equals_the_recomputation(demo_month: DemoMonth, written: Path) -> None:
    report = json.loads((written / "report.json").read_text(encoding="utf-8"))
    expected = recomputed(demo_month, report)
    for part in ("value", "previous"):
        assert {name: f[part] for name, f in report["figures"].items()} == expected[part], part
    assert report["figures"]["conversations"]["value"] > 300  # a meaningful month, not an empty report
    assert SCRIPT_ATTACK in [c["comment"] for c in report["detractor_comments"]]


# --- in the browser ---------------------------------------------------------------------------


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def assert_charts_drawn(page: Any, shots: Path) -> None:
    """Each chart: plotly's trace groups with real paths, and its trace colours in its screenshot."""
    from PIL import Image

    charts = page.locator("[data-chart]")
    assert charts.count() == len(CHART_COLOURS)
    for n in range(charts.count()):
        chart = charts.nth(n)
        name = chart.get_attribute("data-chart")
        assert chart.get_attribute("data-drawn") == "true", name
        drawn = chart.evaluate(
            "(e) => [...e.querySelectorAll('g.trace path')]"
            ".filter((p) => (p.getAttribute('d') || '').length > 20).length"
        )
        assert drawn > 0, f"{name}: no trace drawn"
        assert chart.locator(".annotation-text").count() == 0, f"{name}: 'no data' instead of a chart"
        chart.scroll_into_view_if_needed()
        picture = chart.screenshot(path=str(shots / f"{name}.png"))
        image = Image.open(io.BytesIO(picture)).convert("RGB")
        pixels = list(image.getdata())
        assert len(set(pixels)) > 50, f"{name}: the screenshot is (nearly) one colour"
        for key in CHART_COLOURS[name]:
            target = _rgb(COLOURS[key])
            near = sum(1 for p in pixels if all(abs(a - b) <= 40 for a, b in zip(p, target, strict=True)))
            assert near >= 20, f"{name}: no {key} ({COLOURS[key]}) pixels: the trace is not drawn"


def open_page(playwright: Any, url: str, chromium_path: str) -> tuple[Any, Any, dict[str, list[str]]]:
    browser = playwright.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"], headless=True)
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    seen: dict[str, list[str]] = {"requests": [], "errors": [], "dialogs": []}
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    page.add_init_script(WATCH_CSP)
    page.goto(url)
    return browser, page, seen


def test_the_html_report_in_a_real_browser_draws_every_chart_and_every_number_matches_the_database(
    chromium: str,  # noqa: F811
    demo_month: DemoMonth,
    written: Path,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    report = json.loads((written / "report.json").read_text(encoding="utf-8"))
    url = (written / "report.html").as_uri()
    with sync_playwright() as playwright:
        browser, page, seen = open_page(playwright, url, chromium)
        try:
            expect(page.locator("[data-chart][data-drawn=true]")).to_have_count(
                len(CHART_COLOURS), timeout=30_000
            )
            assert_charts_drawn(page, tmp_path)
            checked = check_page_against_database(page.evaluate(FIGURES_ON_PAGE), report, demo_month)
            assert checked["independent"] >= 3 * len(report["figures"]) and checked["breakdown"] > 100
            # Self-contained: the only request is the file itself; nothing broke the policy.
            assert set(seen["requests"]) == {url}, seen["requests"]
            assert page.evaluate("window.__csp || []") == []
            # The hostile comment is shown as the text it is, and never ran.
            expect(page.locator("#detractor-comments td.comment", has_text="window.pwned=1")).to_have_count(1)
            assert page.locator("#detractor-comments td.comment", has_text="window.pwned=1").inner_text() == (
                SCRIPT_ATTACK
            )
            assert page.evaluate("window.pwned") is None and seen["dialogs"] == [] and seen["errors"] == []
            assert page.locator("script").count() == 3
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()


def test_a_blocked_network_changes_nothing(chromium: str, written: Path) -> None:  # noqa: F811
    """Offline (every request but the file refused), the report still draws all its charts."""
    from playwright.sync_api import expect, sync_playwright

    url = (written / "report.html").as_uri()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"], headless=True)
        try:
            context = browser.new_context(offline=True)
            page = context.new_page()
            page.goto(url)
            expect(page.locator("[data-chart][data-drawn=true]")).to_have_count(
                len(CHART_COLOURS), timeout=30_000
            )
        finally:
            browser.close()


def test_the_report_command_says_what_is_wrong_without_a_traceback(
    demo_month: DemoMonth, tmp_path: Path
) -> None:
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "report", *args], cwd=ROOT, env=env or demo_month.env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    started = time.monotonic()
    for args, message in (
        (("--from", "2026-11-01"), "--from needs --to"),
        (("--from", "2026-11-30", "--to", "2026-11-01"), "before it starts"),
        (("--period", "last week"), "cannot read the period"),
        (("--days", "0"), "--days must be 1 or more"),
        (("--endpoints", str(tmp_path / "missing.yml")), "does not exist"),
    ):
        done = run(*args)
        assert done.returncode != 0 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    done = run(env={**demo_month.env, "SUPPORTBOT_DATABASE_URL": empty})
    assert (
        done.returncode == 1 and "python -m bot db upgrade" in done.stderr and "Traceback" not in done.stderr
    )
    blocked = tmp_path / "file"
    blocked.write_text("not a directory", encoding="utf-8")
    done = run("--out", str(blocked / "out"), "--endpoints", str(demo_month.endpoints))
    assert done.returncode == 1 and "choose another --out" in done.stderr and "Traceback" not in done.stderr
    assert time.monotonic() - started < 120
