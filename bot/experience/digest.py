"""The support lead's weekly digest: what moved, why people were needed, what the bot missed.

``python -m bot digest [--days 7] [--send]`` prints it now (``--send`` posts it); the worker
posts it once a week (bot/experience/digest_job.py), to the Slack channel in business.yml
``digest:`` with the agents' Slack app, or to the agent inbox when there is no Slack.

The text is made from the report dict (bot/experience/report.py) and nothing else, so the
digest, the report and the dashboard cannot disagree. The period is the last ``days`` full
local days (yesterday and before), against the ``days`` before them. Everything a customer
typed — unrecognised questions, survey comments — is redacted (bot/redact.py) and, for
Slack, escaped (bot/handoff/desks/slack/mrkdwn.py), so a comment saying ``<!channel>`` or
``<https://evil|click>`` is shown as text and pings or links nobody.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.handoff.desks.labels import channel_label
from bot.handoff.desks.slack.mrkdwn import escape_mrkdwn, quote, safe_text
from bot.redact import anonymise

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TOP = 5  # entries per list
# Figures the digest may call movers (the splits and business-hours twins would repeat them).
MOVERS = (
    "conversations", "involvement", "containment", "verified_resolution", "durable_resolution",
    "reopen_rate", "abandoned_rate", "handoff_rate", "fallback_rate", "csat", "nps", "ces",
    "csat_response_rate", "nps_response_rate", "ces_response_rate", "bot_first_response_median",
    "people_first_reply_median", "handoff_claim_median", "bot_resolution_median", "people_resolution_median",
)  # fmt: skip
LOWER_IS_BETTER = frozenset({
    "reopen_rate", "abandoned_rate", "handoff_rate", "fallback_rate", "bot_first_response_median",
    "people_first_reply_median", "handoff_claim_median", "bot_resolution_median", "people_resolution_median",
})  # fmt: skip
NEUTRAL = frozenset({"conversations"})
HEADLINE = ("conversations", "containment", "verified_resolution", "csat", "nps")  # the first line
# How much of a change is news, per unit: percentage points, NPS points, CES steps, relative %.
SCALE = {"percent": 1.0, "nps": 0.5, "ces": 20.0, "relative": 0.33}
MIN_MOVE = 1.0  # below this (after SCALE) a change is noise


class DigestSettingsError(ValueError):
    """business.yml ``digest:`` has a value of the wrong kind; the message names the key."""


@dataclass(frozen=True)
class DigestSettings:
    enabled: bool = True
    slack_channel: str | None = None  # None: the handoff channel
    weekday: str = "mon"
    at: time = time(9, 0)  # local time (business hours' timezone)
    days: int = 7


def digest_settings(path: Path | None = None) -> DigestSettings:
    """business.yml ``digest:`` (the file in use unless ``path``); defaults when the section is absent."""
    from bot.business import business_file
    from bot.settings import expand

    source = path or business_file()
    document = expand(yaml.safe_load(source.read_text(encoding="utf-8")) or {}, where=source.name)
    raw = document.get("digest") or {}
    if not isinstance(raw, dict):
        raise DigestSettingsError(
            f"{source}: 'digest' must be a section with enabled, slack_channel, weekday, time"
        )
    weekday = str(raw.get("weekday", "mon")).strip().lower()[:3]
    if weekday not in DAY_NAMES:
        raise DigestSettingsError(
            f"{source}: digest.weekday must be one of mon..sun, not {raw.get('weekday')!r}"
        )
    try:
        hours, minutes = str(raw.get("time", "09:00")).split(":")
        at = time(int(hours), int(minutes))
    except ValueError as exc:
        raise DigestSettingsError(
            f'{source}: digest.time must look like "09:00", not {raw.get("time")!r}'
        ) from exc
    days = raw.get("days", 7)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 92:
        raise DigestSettingsError(
            f"{source}: digest.days must be a whole number of days (1..92), not {days!r}"
        )
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise DigestSettingsError(f"{source}: digest.enabled must be true or false, not {enabled!r}")
    channel = str(raw.get("slack_channel") or "").strip() or None
    return DigestSettings(enabled=enabled, slack_channel=channel, weekday=weekday, at=at, days=days)


def digest_period(days: int, now: datetime, timezone: str) -> tuple[date, date]:
    """The last ``days`` full local days before today: (first, last), inclusive."""
    from zoneinfo import ZoneInfo

    today = now.astimezone(ZoneInfo(timezone)).date()
    return today - timedelta(days=days), today - timedelta(days=1)


# --------------------------------------------------------------------------- the text (pure)


@dataclass(frozen=True)
class Move:
    name: str
    label: str
    unit: str
    value: float
    previous: float
    weight: float  # how newsworthy, comparable across units
    better: bool | None  # None: neither (the number of conversations)


def movers(report: dict[str, Any], count: int = TOP) -> list[Move]:
    """The figures that changed most against the previous period, biggest first."""
    found = []
    for name in MOVERS:
        figure = (report.get("figures") or {}).get(name) or {}
        value, previous = figure.get("value"), figure.get("previous")
        if value is None or previous is None or value == previous:
            continue
        unit = str(figure.get("unit") or "")
        delta = float(value) - float(previous)
        if unit == "percent":
            weight = abs(delta) * SCALE["percent"]
        elif name in ("nps", "ces"):
            weight = abs(delta) * SCALE[name]
        else:  # seconds and counts: the relative change
            weight = abs(delta) / max(abs(float(previous)), 1.0) * 100 * SCALE["relative"]
        if weight < MIN_MOVE:
            continue
        better = None if name in NEUTRAL else (delta < 0) == (name in LOWER_IS_BETTER)
        found.append(
            Move(name, str(figure.get("label") or name), unit, float(value), float(previous), weight, better)
        )
    return sorted(found, key=lambda move: -move.weight)[:count]


def show(value: float | None, unit: str, name: str = "") -> str:
    """A figure as people read it: 81.2%, +38, 5.57, 4 min, 1,203."""
    if value is None:
        return "—"
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "seconds":
        if value < 90:
            return f"{value:.0f} s"
        return f"{value / 60:.0f} min" if value < 90 * 60 else f"{value / 3600:.1f} h"
    if name.startswith("nps"):
        return f"{value:+.0f}"
    if unit == "score":
        return f"{value:.2f}"
    return f"{value:,.0f}"


def _movement(move: Move) -> str:
    delta = move.value - move.previous
    arrow = "▲" if delta > 0 else "▼"
    if move.unit == "percent":
        size = f"{abs(delta):.1f} pts"
    elif move.name == "nps":
        size = f"{abs(delta):.0f} pts"
    elif move.name == "ces":
        size = f"{abs(delta):.2f}"
    else:
        size = f"{abs(delta) / max(abs(move.previous), 1.0) * 100:.0f}%"
    verdict = "" if move.better is None else (", better" if move.better else ", worse")
    return f"{arrow} {size}{verdict}, was {show(move.previous, move.unit, move.name)}"


def digest_text(
    report: dict[str, Any], *, business: str = "Hearthlink", slack: bool = True, top: int = TOP
) -> str:
    """The digest as Slack mrkdwn (``slack``) or as plain text for the agent inbox."""
    esc: Callable[[str], str] = escape_mrkdwn if slack else (lambda text: text)

    def bold(text: str) -> str:
        return f"*{text}*" if slack else text

    def untrusted(text: str, limit: int = 200) -> str:  # what a customer typed
        cleaned = " ".join(anonymise(str(text)).split())
        return safe_text(cleaned, limit) if slack else cleaned[:limit]

    period, figures = report.get("period") or {}, report.get("figures") or {}
    previous = period.get("previous") or {}
    lines = [
        bold(f"{esc(business)} support digest: {_dates(period)}") + f" (against {_dates(previous)})",
        " · ".join(
            f"{esc(str(f.get('label', name)))} {show(f.get('value'), str(f.get('unit', '')), name)}"
            for name, f in ((n, figures[n]) for n in HEADLINE if n in figures)
        ),
        "",
        bold("What moved most"),
    ]
    moved = movers(report, top)
    lines += [f"• {esc(m.label)}: {show(m.value, m.unit, m.name)} ({_movement(m)})" for m in moved] or [
        "• nothing moved much against the previous period"
    ]
    lines += ["", bold("Why people were needed")]
    reasons = (report.get("handoff_reasons") or [])[:top]
    lines += [f"• {untrusted(r['reason'])}: {r['count']}" for r in reasons] or ["• no handoffs"]
    lines += ["", bold("What the bot did not understand")]
    unknown = (report.get("top_unrecognised") or [])[:top]
    lines += [f"• “{untrusted(u['text'])}” ({u['count']}×)" for u in unknown] or [
        "• nothing: every message understood"
    ]
    groups = report.get("miss_clusters")  # the newest review-misses file (bot/review/digest.py)
    if groups is not None:
        when = f" (review of {untrusted(groups['generated_at'], 20)})" if groups.get("generated_at") else ""
        lines += ["", bold("Groups of missed questions") + when]
        lines += [
            f"• {c['size']}× like “{untrusted(c['example'])}” → {untrusted(c['suggestion'], 80)}"
            for c in groups.get("clusters") or []
        ] or [
            "• no groups of similar questions" if when else "• no review yet: run python -m bot review-misses"
        ]
    lines += ["", bold("Unhappy customers said")]
    comments = (report.get("detractor_comments") or [])[:top]
    for c in comments:
        said = " ".join(anonymise(str(c.get("comment") or "")).split())
        lines.append(quote(said, 400) if slack else f"> {said[:400]}")
        score = f"{str(c.get('kind', '')).upper()} {c.get('score')}"
        lines.append(
            f"   — {score} · {esc(channel_label(c.get('channel')))} · {esc(str(c.get('day') or ''))}"
        )
    if not comments:
        lines.append("• no unhappy comments")
    waiting = report.get("waiting_now")
    if waiting:
        lines += ["", f"Waiting for a person right now: {waiting}"]
    return "\n".join(lines)


def _dates(period: dict[str, Any]) -> str:
    start, end = period.get("start"), period.get("end")
    if not start or not end:
        return "—"
    first, last = date.fromisoformat(str(start)), date.fromisoformat(str(end))
    if first == last:
        return f"{first:%a %-d %b %Y}"
    return f"{first:%-d %b} – {last:%-d %b %Y}"


# --------------------------------------------------------------------------- command line


def add_digest_command(commands: Any) -> None:
    """``digest``: called by bot/experience/cli.py with the top-level subparsers."""
    digest = commands.add_parser(
        "digest", help="print the weekly digest now (--send: post it to Slack or the inbox)"
    )
    digest.add_argument(
        "--days", type=int, default=None, help="full local days before today (default: digest.days, 7)"
    )
    digest.add_argument(
        "--send", action="store_true", help="post it (business.yml digest.slack_channel, or the inbox)"
    )
    digest.add_argument("--endpoints", type=Path, default=None, help="the endpoints file Rasa runs with")
    digest.set_defaults(func=cmd_digest)


def cmd_digest(args: argparse.Namespace) -> int:
    from bot.business import BusinessSettingsError
    from bot.experience.digest_job import DeliveryError, build_digest, send_now
    from bot.handoff.settings import RelaySettingsError

    try:
        settings = digest_settings()
        days = args.days or settings.days
        if days < 1:
            print("error: --days must be at least 1", file=sys.stderr)
            return 2
        endpoints = _endpoints(args.endpoints)
        now = datetime.now(UTC)
        if not args.send:
            print(build_digest(days, now, endpoints, slack=False))
            return 0
        where = send_now(days, now, endpoints, settings)
    except (DigestSettingsError, BusinessSettingsError, RelaySettingsError, DeliveryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the report's own errors (tracker store not SQL …) say what to change
        if type(exc).__name__ not in ("TrackerStoreError", "MetricsSettingsError", "PeriodError"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"==> digest of the last {days} days posted to {where}")
    return 0


def _endpoints(given: Path | None) -> Path:
    from bot.experience.cli import endpoints_file

    return endpoints_file(given)
