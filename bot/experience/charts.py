"""The report's charts as Plotly figures: report dict in, figure JSON out (no I/O, no database).

The self-contained HTML report (bot/experience/html_report.py) and the live dashboard
(bot/experience/dashboard.py) both draw these, so a number looks the same in both. A
figure is returned as plain JSON-ready dicts (``{"data": [...], "layout": {...}}``), which
plotly.js draws with ``Plotly.newPlot(element, data, layout, CONFIG)``.

Labels that come from the data (channels, intents, handoff reasons) are escaped for
plotly.js, which reads a few HTML-like tags (``<b>``, ``<a href>``) in any text it draws:
``&lt;script&gt;`` is drawn as the characters a customer typed, never as markup.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import plotly.graph_objects as go

Report = dict[str, Any]
Figure = dict[str, Any]

# plotly.js options for every chart: no logo, no link to Chart Studio, resizes with the page.
CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True, "showLink": False}

COLOURS = {
    "csat": "#2e7d32",
    "nps": "#1565c0",
    "ces": "#6a1b9a",
    "containment": "#9e9e9e",
    "verified_resolution": "#1e88e5",
    "durable_resolution": "#2e7d32",
    "handoff_rate": "#ef6c00",
    "fallback_rate": "#c62828",
    "bot": "#1e88e5",
    "people": "#ef6c00",
}
TOP_INTENTS = 12  # more bars than that are unreadable; the table below the chart has them all
TOP_REASONS = 10
EMPTY = "No data for this period"


def chart_figures(report: Report) -> dict[str, Figure]:
    """Every chart of the report, by name, in the order the report shows them."""
    return {name: build(report) for name, (_title, build) in CHARTS.items()}


def chart_titles() -> dict[str, str]:
    """The heading each chart is shown under."""
    return {name: title for name, (title, _build) in CHARTS.items()}


def label(value: object) -> str:
    """A data value as plotly.js text: its HTML-like tags escaped, so it is drawn as typed."""
    return html.escape(str(value), quote=False)


def _figure(figure: go.Figure, *, title: str, empty: bool) -> Figure:
    figure.update_layout(
        title={"text": title, "x": 0.01},
        template="plotly_white",
        margin={"l": 60, "r": 30, "t": 50, "b": 50},
        height=360,
        legend={"orientation": "h", "y": -0.18},
        font={"family": "system-ui, sans-serif", "size": 13},
    )
    if empty:
        figure.add_annotation(
            text=EMPTY, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5, font={"size": 16}
        )
    return json.loads(figure.to_json())


def _unit_of(report: Report, name: str) -> str:
    return str((report.get("figures", {}).get(name) or {}).get("unit", "count"))


def _title_of(report: Report, name: str) -> str:
    return label((report.get("figures", {}).get(name) or {}).get("label", name.replace("_", " ")))


def _series(report: Report, name: str) -> tuple[list[str], list[float | None]]:
    days = [str(row.get("day")) for row in report.get("trend", [])]
    return days, [row.get(name) for row in report.get("trend", [])]


def _trend(report: Report, names: Sequence[str], title: str, right: str | None = None) -> Figure:
    """Lines per local day; ``right`` goes on a second y axis (NPS runs -100..100, CSAT 0..100)."""
    figure = go.Figure()
    has_data = False
    for name in names:
        days, values = _series(report, name)
        has_data = has_data or any(value is not None for value in values)
        figure.add_trace(
            go.Scatter(
                x=days,
                y=values,
                name=_title_of(report, name),
                mode="lines+markers",
                line={"color": COLOURS.get(name)},
                yaxis="y2" if name == right else "y",
                hovertemplate="%{x}: %{y}<extra>" + _title_of(report, name) + "</extra>",
            )
        )
    figure.update_layout(yaxis={"title": "%", "rangemode": "tozero"}, xaxis={"type": "date"})
    if right is not None:
        figure.update_layout(
            yaxis2={
                "title": _title_of(report, right),
                "overlaying": "y",
                "side": "right",
                "range": [-100, 100],
                "showgrid": False,
            }
        )
    return _figure(figure, title=title, empty=not has_data)


def satisfaction_trend(report: Report) -> Figure:
    return _trend(report, ("csat", "nps"), "Satisfaction per day: CSAT (%) and NPS", right="nps")


def resolution_trend(report: Report) -> Figure:
    return _trend(
        report,
        ("containment", "verified_resolution", "durable_resolution"),
        "Containment vs verified vs durable resolution per day (%)",
    )


def _distribution(report: Report, series: Iterable[tuple[str, str, str]], title: str) -> Figure:
    """Box plots of seconds, one per (distribution key, name, colour); log axis when all are > 0."""
    figure = go.Figure()
    distributions = report.get("distributions", {})
    everything: list[float] = []
    for key, name, colour in series:
        values = [float(value) for value in distributions.get(key) or [] if value is not None]
        everything += values
        figure.add_trace(
            go.Box(
                x=values,
                name=f"{name} ({len(values)})",
                marker={"color": colour},
                boxpoints="outliers",
                orientation="h",
                hovertemplate="%{x:.1f} s<extra></extra>",
            )
        )
    log = bool(everything) and min(everything) > 0
    figure.update_layout(
        xaxis={"title": "seconds" + (" (log scale)" if log else ""), "type": "log" if log else "linear"},
        showlegend=False,
    )
    return _figure(figure, title=title, empty=not everything)


def first_response_times(report: Report) -> Figure:
    return _distribution(
        report,
        (
            ("bot_first_response_seconds", "Bot", COLOURS["bot"]),
            ("agent_first_reply_seconds", "People", COLOURS["people"]),
        ),
        "Time to first response: bot vs people",
    )


def resolution_times(report: Report) -> Figure:
    return _distribution(
        report,
        (
            ("bot_resolution_seconds", "Bot", COLOURS["bot"]),
            ("people_resolution_seconds", "People", COLOURS["people"]),
        ),
        "Time to resolution: bot vs people",
    )


def short(text: object, limit: int = 48) -> str:
    """A long label cut to ``limit`` characters (the full text is in the hover and the table)."""
    value = str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def handoff_reasons(report: Report) -> Figure:
    """The most frequent reasons (the table under the charts lists all of them)."""
    ranked = sorted(report.get("handoff_reasons", []), key=lambda row: -row.get("count", 0))[:TOP_REASONS]
    rows = ranked[::-1]  # plotly draws the first bar at the bottom
    figure = go.Figure(
        go.Bar(
            x=[row.get("count", 0) for row in rows],
            y=[label(short(row.get("reason"))) for row in rows],
            customdata=[label(row.get("reason")) for row in rows],
            orientation="h",
            marker={"color": COLOURS["handoff_rate"]},
            hovertemplate="%{customdata}: %{x}<extra></extra>",
        )
    )
    figure.update_layout(xaxis={"title": "handoffs"}, yaxis={"automargin": True})
    return _figure(figure, title=f"Handoff reasons (the {TOP_REASONS} most frequent)", empty=not rows)


def _by(report: Report, breakdown: str, names: Sequence[str], title: str, limit: int | None = None) -> Figure:
    """Grouped bars of percent figures per key of one breakdown (the most conversations first)."""
    rows = list(report.get("breakdowns", {}).get(breakdown, []))
    rows.sort(key=lambda row: -((row.get("figures") or {}).get("conversations") or 0))
    rows = rows[:limit] if limit else rows
    keys = [label(row.get("key")) for row in rows]
    figure = go.Figure()
    has_data = False
    for name in names:
        values = [(row.get("figures") or {}).get(name) for row in rows]
        has_data = has_data or any(value is not None for value in values)
        figure.add_trace(
            go.Bar(
                x=keys,
                y=values,
                name=_title_of(report, name),
                marker={"color": COLOURS.get(name)},
                hovertemplate="%{x}: %{y}%<extra>" + _title_of(report, name) + "</extra>",
            )
        )
    figure.update_layout(
        barmode="group", yaxis={"title": "%", "rangemode": "tozero"}, xaxis={"automargin": True}
    )
    return _figure(figure, title=title, empty=not has_data)


def by_channel(report: Report) -> Figure:
    names = ("containment", "verified_resolution", "durable_resolution", "csat")
    return _by(report, "channel", names, "By channel")


def by_intent(report: Report) -> Figure:
    names = ("containment", "verified_resolution", "handoff_rate", "fallback_rate")
    return _by(report, "intent", names, f"By intent (the {TOP_INTENTS} most frequent)", limit=TOP_INTENTS)


CHARTS: dict[str, tuple[str, Callable[[Report], Figure]]] = {
    "satisfaction_trend": ("Satisfaction trend", satisfaction_trend),
    "resolution_trend": ("Resolution over time", resolution_trend),
    "first_response_times": ("Time to first response", first_response_times),
    "resolution_times": ("Time to resolution", resolution_times),
    "handoff_reasons": ("Handoff reasons", handoff_reasons),
    "by_channel": ("By channel", by_channel),
    "by_intent": ("By intent", by_intent),
}
