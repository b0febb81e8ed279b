// The live customer-experience dashboard. It draws the page model the server built from the
// report (bot/experience/view.py: every number already formatted, its raw value beside it) the
// same way bot/experience/html_report.py writes the HTML file: the same sections, classes and
// data-figure / data-part / data-breakdown / data-key / data-value attributes.
// Customer text (comments, questions, intent names, reasons) is untrusted: it only ever goes
// into text nodes and attribute values, never parsed as markup. Charts are drawn by plotly.js
// from figures the server built (their labels escaped for plotly.js's few tags).
"use strict";
let csrf = null;
let timer = null;
const REFRESH_MS = 60_000;
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined) continue;
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

const raw = (value) => (value === null || value === undefined ? "" : JSON.stringify(value));

async function post(path, body) {
  const headers = {"content-type": "application/json"};
  if (csrf) headers["x-csrf-token"] = csrf;
  return fetch(path, {method: "POST", headers, body: JSON.stringify(body || {}), credentials: "same-origin"});
}

async function problem(response) {
  try { return (await response.json()).error || response.statusText; } catch { return response.statusText; }
}

function showLogin(message) {
  csrf = null;
  if (timer) { clearInterval(timer); timer = null; }
  $("dashboard").hidden = true; $("who").hidden = true; $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("login-name").focus();
}

function showDashboard(session) {
  csrf = session.csrf;
  $("agent").textContent = session.agent;
  $("login").hidden = true; $("dashboard").hidden = false; $("who").hidden = false;
  const setup = $("first-run");
  if (setup) setup.hidden = true;
  load();
  if (!timer) timer = setInterval(load, REFRESH_MS);
}

function query() {
  const days = $("days").value;
  if (days !== "custom") return `days=${encodeURIComponent(days)}`;
  return `from=${encodeURIComponent($("from").value)}&to=${encodeURIComponent($("to").value)}`;
}

async function load() {
  $("status").textContent = "loading…";
  const response = await fetch(`/dashboard/report.json?${query()}`, {credentials: "same-origin"});
  if (response.status === 401) return showLogin("Your session ended; log in again.");
  if (!response.ok) {
    $("status").textContent = "";
    $("report-error").textContent = await problem(response);
    return;
  }
  const answer = await response.json();
  $("report-error").textContent = "";
  render(answer.page, answer.digest);
  $("status").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

function tile(figure) {
  return el("div", {class: "tile"},
    el("div", {class: "label"}, figure.label),
    el("div", {class: "value", "data-figure": figure.name, "data-part": "value", "data-value": raw(figure.value)}, figure.text),
    el("div", {class: `change ${figure.direction}`, "data-figure": figure.name, "data-part": "change",
               "data-value": raw(figure.change)}, figure.change_text),
    el("div", {class: "previous"}, "previous: ",
       el("span", {"data-figure": figure.name, "data-part": "previous", "data-value": raw(figure.previous)}, figure.previous_text)));
}

function section(title, ...children) {
  return el("section", {}, el("h2", {}, title), ...children);
}

function table(head, rows, attrs = {}) {
  return el("div", {class: "wide"}, el("table", attrs,
    el("thead", {}, el("tr", {}, ...head.map((text) => el("th", {}, text)))),
    el("tbody", {}, ...rows)));
}

function breakdown(view) {
  if (!view.rows.length) return section(view.title, el("p", {class: "empty"}, "No data for this period."));
  const rows = view.rows.map((row) => el("tr", {},
    el("td", {class: "text"}, row.key),
    ...row.cells.map((cell) => el("td", {"data-figure": cell.name, "data-breakdown": view.name, "data-key": row.key,
                                         "data-value": raw(cell.value)}, cell.text))));
  return section(view.title, table([view.name.replace("_", " "), ...view.columns.map((c) => c.label)], rows,
                                   {"data-breakdown-table": view.name}));
}

function counted(title, rows, figure, what, id) {
  if (!rows.length) return section(title, el("p", {class: "empty"}, "None in this period."));
  return section(title, table([what, "Count"], rows.map(([text, count, countText]) => el("tr", {},
    el("td", {class: "text"}, text),
    el("td", {"data-figure": figure, "data-key": text, "data-value": raw(count)}, countText))), {id}));
}

function comments(items) {
  const title = "Detractor comments";
  if (!items.length) return section(title, el("p", {class: "empty"}, "No detractor comments in this period."));
  const rows = items.map((c) => el("tr", {},
    el("td", {class: "text"}, c.answered_at), el("td", {class: "text"}, c.channel), el("td", {class: "text"}, c.kind),
    el("td", {"data-figure": "detractor_score", "data-key": c.conversation_id, "data-value": raw(c.score)}, c.score_text),
    el("td", {class: "comment"}, c.comment), el("td", {class: "text"}, c.conversation_id)));
  return section(title, el("p", {class: "note"}, "NPS 0–6 and CSAT 1–2, in the customer's words (redacted)."),
                 table(["Answered", "Channel", "Survey", "Score", "Comment", "Conversation"], rows, {id: "detractor-comments"}));
}

function allFigures(figures) {
  const rows = figures.map((f) => el("tr", {},
    el("td", {}, f.label),
    el("td", {"data-figure": f.name, "data-part": "value", "data-value": raw(f.value)}, f.text),
    el("td", {"data-figure": f.name, "data-part": "previous", "data-value": raw(f.previous)}, f.previous_text),
    el("td", {class: f.direction, "data-figure": f.name, "data-part": "change", "data-value": raw(f.change)}, f.change_text)));
  return section("All figures", table(["Figure", "This period", "Previous period", "Change"], rows, {id: "all-figures"}));
}

function digestSection(digest) {
  // Without Slack the weekly digest is kept in the inbox's posts; shown here, as text only.
  if (!digest) return [];
  return [section(`Weekly digest (${digest.at})`, el("pre", {class: "digest", id: "digest"}, digest.text))];
}

function render(page, digest) {
  const period = page.period;
  $("period").textContent = `${period.current} (${period.timezone}), against ${period.previous}`;
  const charts = page.charts.map((chart) => el("div", {class: "chart", id: `chart-${chart.name}`, "data-chart": chart.name,
                                                       "aria-label": chart.title}));
  const body = [
    section("Headline figures", el("div", {class: "headline", id: "headline"}, ...page.headline.map(tile)),
            el("p", {class: "note"}, "Change: this period against the previous one of the same length (percentages in points).")),
    section("Charts", el("div", {class: "charts"}, ...charts)),
    ...page.breakdowns.map(breakdown),
    counted("Handoff reasons", page.handoff_reasons.map((r) => [r.reason, r.count, r.text]),
            "handoff_reason_count", "Reason", "handoff-reasons"),
    counted("Top unrecognised questions", page.top_unrecognised.map((r) => [r.text, r.count, r.count_text]),
            "unrecognised_count", "Question (redacted)", "top-unrecognised"),
    comments(page.detractor_comments),
    allFigures(page.figures),
    ...digestSection(digest),
  ];
  for (const old of document.querySelectorAll(".chart")) Plotly.purge(old);
  $("report").replaceChildren(...body);
  const drawn = page.charts.map((chart, n) =>
    Plotly.newPlot(charts[n], chart.figure.data, chart.figure.layout, page.chart_config)
      .then(() => charts[n].setAttribute("data-drawn", "true")));
  Promise.all(drawn).then(() => document.body.setAttribute("data-loaded", String(Date.now())));
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await post("/dashboard/api/login", {name: $("login-name").value, password: $("login-password").value});
  if (!response.ok) {
    $("login-error").textContent = await problem(response);
    return;
  }
  $("login-password").value = "";
  showDashboard(await response.json());
});

$("logout").addEventListener("click", async () => {
  await post("/dashboard/api/logout", {});
  showLogin("");
});

$("days").addEventListener("change", () => { $("range").hidden = $("days").value !== "custom"; });
$("controls").addEventListener("submit", (event) => { event.preventDefault(); load(); });

(async () => {
  const response = await fetch("/dashboard/api/session", {credentials: "same-origin"});
  if (response.ok) showDashboard(await response.json());
  else showLogin("");
})();
