"""The self-contained HTML report: one file a support lead opens offline, mails, or archives.

Self-contained means nothing is fetched when it opens: plotly.js is embedded once, inline,
from the installed plotly package (``plotly.offline.get_plotlyjs``), the styles are inline,
and the page's Content-Security-Policy (``default-src 'none'``) forbids every request, so
even a link that slipped into the data could not load anything. The bundle's own strings
(map tile servers) are used only by map charts, which the report has none of.

Customer text is untrusted: comments, unrecognised questions, intent names and handoff
reasons are HTML-escaped (``html.escape``), chart data sits in a JSON data block with
``<``, ``>`` and ``&`` written as ``\\u003c``…, and only the two scripts whose SHA-256 the
CSP lists may run, so a ``</script><script>…`` in a comment is shown as text and never runs.

Every number carries ``data-figure``/``data-value`` (see bot/experience/view.py).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from functools import lru_cache
from importlib import resources
from typing import Any

from bot.experience.charts import CONFIG
from bot.experience.view import page_model

Report = dict[str, Any]

# Draws each chart from the JSON data block; marks it data-drawn when plotly.js is done.
DRAW_SCRIPT = """(function () {
  var model = JSON.parse(document.getElementById('report-charts').textContent);
  model.charts.forEach(function (chart) {
    var element = document.getElementById('chart-' + chart.name);
    Plotly.newPlot(element, chart.figure.data, chart.figure.layout, model.config).then(function () {
      element.setAttribute('data-drawn', 'true');
    });
  });
})();"""


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.js from the installed plotly package (the same file the dashboard serves)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def stylesheet() -> str:
    return resources.files("bot.experience").joinpath("static/report.css").read_text(encoding="utf-8")


def script_hash(source: str) -> str:
    """The CSP ``'sha256-…'`` source that lets exactly this inline script run."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def json_for_script(value: Any) -> str:
    """JSON that cannot end its ``<script>`` block or open a comment, whatever the strings in it."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def content_security_policy(scripts: list[str]) -> str:
    hashes = " ".join(script_hash(script) for script in scripts)
    return (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def tag(name: str, *content: str, **attributes: object) -> str:
    """``<name a="…">content</name>``: attribute values escaped here, ``content`` already HTML.

    Attribute names are written with ``-`` for ``_`` (``data_figure`` → ``data-figure``;
    ``class_`` → ``class``); a None value leaves the attribute out.
    """
    attrs = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{esc(value)}"'
        for key, value in attributes.items()
        if value is not None
    )
    return f"<{name}{attrs}>{''.join(content)}</{name}>"


def raw_value(value: object) -> str:
    """``data-value``: the raw number as JSON (every digit kept), empty for None."""
    return "" if value is None else json.dumps(value)


def number(name: str, value: object, text: str, element: str = "td", **attributes: object) -> str:
    """A number on the page: its text, ``data-figure`` and the raw ``data-value``."""
    return tag(element, esc(text), data_figure=name, **attributes, data_value=raw_value(value))


def section(title: str, *content: str) -> str:
    return tag("section", tag("h2", esc(title)), *content)


def table(head: list[str], rows: list[str], **attributes: object) -> str:
    heads = tag("tr", *(tag("th", esc(text)) for text in head))
    return tag("div", tag("table", tag("thead", heads), tag("tbody", *rows), **attributes), class_="wide")


def _tile(f: dict[str, Any]) -> str:
    name, direction = f["name"], f"change {f['direction']}"
    previous = number(name, f["previous"], f["previous_text"], "span", data_part="previous")
    return tag(
        "div",
        tag("div", esc(f["label"]), class_="label"),
        number(name, f["value"], f["text"], "div", class_="value", data_part="value"),
        number(name, f["change"], f["change_text"], "div", class_=direction, data_part="change"),
        tag("div", "previous: ", previous, class_="previous"),
        class_="tile",
    )


def _figures_table(figures: list[dict[str, Any]]) -> str:
    rows = [
        tag(
            "tr",
            tag("td", esc(f["label"])),
            number(f["name"], f["value"], f["text"], data_part="value"),
            number(f["name"], f["previous"], f["previous_text"], data_part="previous"),
            number(f["name"], f["change"], f["change_text"], class_=f["direction"], data_part="change"),
        )
        for f in figures
    ]
    return table(["Figure", "This period", "Previous period", "Change"], rows, id="all-figures")


def _breakdown(view: dict[str, Any]) -> str:
    if not view["rows"]:
        return section(view["title"], tag("p", "No data for this period.", class_="empty"))
    rows = [
        tag(
            "tr",
            tag("td", esc(row["key"]), class_="text"),
            *(
                number(
                    cell["name"],
                    cell["value"],
                    cell["text"],
                    data_breakdown=view["name"],
                    data_key=row["key"],
                )
                for cell in row["cells"]
            ),
        )
        for row in view["rows"]
    ]
    head = [view["name"].replace("_", " "), *(column["label"] for column in view["columns"])]
    return section(view["title"], table(head, rows, data_breakdown_table=view["name"]))


def _counted(title: str, rows: list[tuple[str, Any, str]], figure: str, what: str, table_id: str) -> str:
    if not rows:
        return section(title, tag("p", "None in this period.", class_="empty"))
    body = [
        tag("tr", tag("td", esc(text), class_="text"), number(figure, count, count_text, data_key=text))
        for text, count, count_text in rows
    ]
    return section(title, table([what, "Count"], body, id=table_id))


def _comments(comments: list[dict[str, Any]]) -> str:
    title = "Detractor comments"
    if not comments:
        return section(title, tag("p", "No detractor comments in this period.", class_="empty"))
    rows = [
        tag(
            "tr",
            *(tag("td", esc(c[key]), class_="text") for key in ("answered_at", "channel", "kind")),
            number("detractor_score", c["score"], c["score_text"], data_key=c["conversation_id"]),
            tag("td", esc(c["comment"]), class_="comment"),
            tag("td", esc(c["conversation_id"]), class_="text"),
        )
        for c in comments
    ]
    head = ["Answered", "Channel", "Survey", "Score", "Comment", "Conversation"]
    note = tag("p", esc("NPS 0–6 and CSAT 1–2, in the customer's words (redacted)."), class_="note")
    return section(title, note, table(head, rows, id="detractor-comments"))


def report_body(model: dict[str, Any]) -> str:
    """The report's sections (everything inside ``<main>``); the dashboard's script builds the same."""
    tiles = tag("div", *(_tile(figure) for figure in model["headline"]), class_="headline", id="headline")
    charts = tag(
        "div",
        *(
            tag("div", class_="chart", id=f"chart-{c['name']}", data_chart=c["name"], aria_label=c["title"])
            for c in model["charts"]
        ),
        class_="charts",
    )
    reasons = [(r["reason"], r["count"], r["text"]) for r in model["handoff_reasons"]]
    unrecognised = [(r["text"], r["count"], r["count_text"]) for r in model["top_unrecognised"]]
    change_note = "Change: this period against the previous one of the same length (percentages in points)."
    return "".join(
        (
            section("Headline figures", tiles, tag("p", esc(change_note), class_="note")),
            section("Charts", charts),
            *(_breakdown(view) for view in model["breakdowns"]),
            _counted("Handoff reasons", reasons, "handoff_reason_count", "Reason", "handoff-reasons"),
            _counted(
                "Top unrecognised questions", unrecognised, "unrecognised_count", "Question (redacted)",
                "top-unrecognised",
            ),
            _comments(model["detractor_comments"]),
            section("All figures", _figures_table(model["figures"])),
        )
    )  # fmt: skip


def render_html(report: Report) -> str:
    """The whole report as one HTML document (about 4.6 MB: plotly.js is most of it)."""
    model = page_model(report)
    period = model["period"]
    charts = json_for_script({"config": CONFIG, "charts": model["charts"]})
    bundle = plotly_js()
    policy = content_security_policy([bundle, DRAW_SCRIPT])
    header = tag(
        "header",
        tag("h1", "Customer experience report"),
        tag("span", esc(f"{period['current']} ({period['timezone']}), against {period['previous']}"),
            class_="period", id="period"),
        tag("span", esc(f"generated {period['generated_at']}"), class_="period"),
    )  # fmt: skip
    head = (
        '<meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy, quote=False)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Customer experience report {esc(period['current'])}</title><style>{stylesheet()}</style>"
    )
    scripts = (
        f'<script type="application/json" id="report-charts">{charts}</script>'
        f"<script>{bundle}</script><script>{DRAW_SCRIPT}</script>"
    )
    body = f"{header}<main>{report_body(model)}</main>{scripts}"
    return f'<!doctype html>\n<html lang="en"><head>{head}</head><body>{body}</body></html>\n'
