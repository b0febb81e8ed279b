"""``python -m bot report [--days 30 | --from YYYY-MM-DD --to YYYY-MM-DD | --period 2026-11] [--out DIR]``.

Wired in bot/cli.py ``build_parser`` (``add_commands``), like bot/retention/cli.py. Reads the
same stores as the servers: ``SUPPORTBOT_DATABASE_URL`` for our tables and Rasa's tracker
store from the endpoints file Rasa runs with (``--endpoints``; default ``endpoints.yml``, or
``endpoints.production.yml`` with ``SUPPORTBOT_ENVIRONMENT=production``). Periods are local
dates in the business's timezone (business.yml ``handoff.business_hours.timezone``).

Writes ``report.html`` (self-contained: bot/experience/html_report.py), ``report.json`` and
the CSV exports (bot/experience/exports.py) into ``--out`` (default
``.data/reports/<start>_to_<end>``), printing each step and the paths; a problem is one
``error:`` line that says what to change, never a stack trace.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.settings import customer_database_url, data_dir, project_root, settings

DEFAULT_DAYS = 30


def add_commands(commands: Any) -> None:
    """Add ``report`` (and the demo and digest helpers' verbs) to the ``supportbot`` subparsers."""
    report = commands.add_parser(
        "report", help="write the customer-experience report (self-contained HTML, JSON and CSV)"
    )
    when = report.add_mutually_exclusive_group()
    when.add_argument(
        "--days", type=int, help=f"the last N local days, today included (default {DEFAULT_DAYS})"
    )
    when.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="first local date (with --to)")
    when.add_argument("--period", help="a month (2026-11), a range (2026-11-01..2026-11-30), a day or 30d")
    report.add_argument(
        "--to", dest="end", metavar="YYYY-MM-DD", help="last local date, included (with --from)"
    )
    report.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory for report.html, report.json and the CSVs (default: .data/reports/<start>_to_<end>)",
    )
    report.add_argument(
        "--endpoints",
        type=Path,
        default=None,
        help="the endpoints file Rasa runs with (default: endpoints.yml; "
        "endpoints.production.yml when SUPPORTBOT_ENVIRONMENT=production)",
    )
    report.set_defaults(func=cmd_report)

    from bot.experience.demo import add_demo_command
    from bot.experience.digest import add_digest_command

    add_demo_command(commands)  # demo-month
    add_digest_command(commands)  # digest


def endpoints_file(given: Path | None) -> Path:
    """``--endpoints`` (relative to the project), else the file Rasa runs with in this environment."""
    if given is not None:
        return given if given.is_absolute() else project_root() / given
    production = settings().security.environment == "production"
    return project_root() / ("endpoints.production.yml" if production else "endpoints.yml")


def period_text(args: argparse.Namespace) -> str:
    """The period as ``Period.parse`` reads it; raises ValueError with what to type instead."""
    if args.end and not args.start:
        raise ValueError("--to needs --from: e.g. --from 2026-11-01 --to 2026-11-30")
    if args.start:
        if not args.end:
            raise ValueError("--from needs --to: e.g. --from 2026-11-01 --to 2026-11-30")
        for value in (args.start, args.end):
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a date: write YYYY-MM-DD, e.g. 2026-11-01") from None
        return f"{args.start}..{args.end}"
    if args.period:
        return str(args.period)
    days = DEFAULT_DAYS if args.days is None else args.days
    if days < 1:
        raise ValueError(f"--days must be 1 or more, not {days}")
    return f"{days}d"


def cmd_report(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.business import BusinessSettingsError
    from bot.db import where
    from bot.experience.exports import write_exports
    from bot.experience.html_report import render_html
    from bot.experience.periods import PeriodError
    from bot.experience.report import MetricsSettingsError, load_report
    from bot.experience.tracker_events import TrackerStoreError
    from bot.migrations import schema_problem

    try:
        text = period_text(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    url = customer_database_url()
    problem = schema_problem(url)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    endpoints = endpoints_file(args.endpoints)
    if not endpoints.exists():
        print(
            f"error: the endpoints file {endpoints} does not exist; pass --endpoints FILE "
            "(the one Rasa runs with)",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    print(f"==> reading conversations ({endpoints.name}: tracker store) and {where(url)} ...", flush=True)
    try:
        report = load_report(
            text, endpoints_file=endpoints, database_url=url, data_dir=data_dir(), now=datetime.now(UTC)
        )
    except (PeriodError, MetricsSettingsError, BusinessSettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TrackerStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(
            f"error: cannot read the stores ({exc.__class__.__name__}: {str(exc).splitlines()[0]}); check "
            "SUPPORTBOT_DATABASE_URL, the tracker store in the endpoints file, and that the database "
            "server is up",
            file=sys.stderr,
        )
        return 1
    period = report["period"]
    conversations = report["figures"].get("conversations", {}).get("value")
    print(
        f"==> period {period['start']} to {period['end']} ({period['timezone']}): "
        f"{conversations or 0} conversations, against {period['previous']['start']} to "
        f"{period['previous']['end']} ({time.monotonic() - started:.1f} s)",
        flush=True,
    )
    out = args.out or data_dir() / "reports" / f"{period['start']}_to_{period['end']}"
    try:
        written = write_exports(report, out)
        html = out / "report.html"
        html.write_text(render_html(report), encoding="utf-8")
    except OSError as exc:
        print(
            f"error: cannot write the report into {out} ({exc.strerror or exc}); choose another --out",
            file=sys.stderr,
        )
        return 1
    print(f"==> wrote the report: {html}")
    for path in written:
        print(f"    {path}")
    if not conversations:
        print(
            "    no conversations in this period: try a longer one (--days 90), or fill a demo month with "
            "`python -m bot demo-month` (docs/reports.md)"
        )
    return 0
