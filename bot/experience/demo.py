"""A realistic month of demo conversations, stored where real ones are (``python -m bot demo-month``).

Why: a new user should see a meaningful report and dashboard in one command, before any
customer has written. The month is planned from one seed (bot/experience/demo_plan.py),
each conversation played as Rasa events (demo_stories.py, demo_script.py) and stored
where a running bot stores its own, so the report reads it exactly as it reads real data:

- Rasa's tracker store (``events``; its URL from the endpoints file,
  ``bot/retention/rasa_tables.py rasa_stores``), rows exactly as Rasa's
  ``SQLTrackerStore.save`` writes them, in bulk (a month takes seconds);
- our database: ``customers`` and ``identities`` (one customer on two channels),
  ``handoffs``, ``survey_requests``, and ``conversations`` summaries of handoffs.

Everything is marked: every sender id starts with ``demo-``, and ``--remove`` deletes what
carries the mark and nothing else (running it again replaces the previous demo month).
Nothing is queued in the outbox, so no demo card or message leaves for Slack, X or a
customer. Refused when ``SUPPORTBOT_ENVIRONMENT=production``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from bot.business import load_business_settings
from bot.customers.models import Conversation, Customer, Identity
from bot.db import Database
from bot.experience.demo_plan import PREFIX, MonthPlan, load_texts, plan_month
from bot.experience.demo_script import Rendered, utc
from bot.experience.demo_stories import render
from bot.handoff.models import DeskMessage, Handoff
from bot.outbox import OutboxItem
from bot.redact import redact
from bot.retention.rasa_tables import rasa_engine, rasa_stores
from bot.surveys.models import SurveyRequest

BATCH = 5000  # tracker rows per INSERT
CHANNEL_NAMES = {"socketio": "web chat", "twitter": "X DMs", "rest": "REST", "slack": "Slack Connect"}
Progress = Callable[[str], None]


class DemoRefused(RuntimeError):
    """Demo data was asked for where it must not go (production, or no SQL tracker store)."""


@dataclass(frozen=True)
class DemoSummary:
    conversations: int
    events: int
    handoffs: int
    surveys: int
    customers: int
    channels: dict[str, int]
    seconds: float


def tracker_url_for(endpoints: Path, data_directory: Path) -> str:
    url = rasa_stores(endpoints, data_directory).tracker_url
    if url is None:
        raise DemoRefused(
            f"{endpoints}: tracker_store is not SQL, so demo conversations have nowhere to go; "
            "set tracker_store: type: SQL (endpoints.yml ships with it)"
        )
    return url


def refuse_in_production(environment: str) -> None:
    if environment == "production":
        raise DemoRefused(
            "SUPPORTBOT_ENVIRONMENT=production: demo conversations are never written into a production "
            "database (they would count in the real report); run demo-month on a development copy"
        )


def generate(
    *, database_url: str, tracker_url: str, seed: int = 7, days: int = 30, conversations: int | None = None,
    now: float | None = None, environment: str = "development", progress: Progress = print,
    business_path: Path | None = None,
) -> DemoSummary:  # fmt: skip
    """Replace the demo data with a new month ending at ``now`` (Unix seconds; default: now).

    ``business_path``: the business.yml whose timezone and opening hours shape the month
    (default: the one in use)."""
    refuse_in_production(environment)
    began = time.monotonic()
    now = time.time() if now is None else now
    business = load_business_settings(business_path)
    hours = business.handoff.business_hours
    count = conversations if conversations is not None else 50 * days
    progress(
        f"==> demo month: about {count:,} conversations over {days} days, seed {seed}, {hours.timezone} time"
    )
    texts = load_texts()
    plan = plan_month(seed=seed, now=now, days=days, conversations=count, hours=hours, texts=texts)
    responses = _responses()
    values = {
        "business_name": business.name, "wait_minutes": 3, "hours": hours.describe(),
        "refund_days": business.refund_days, "return_window_days": business.return_window_days,
    }  # fmt: skip
    rendered = [
        render(
            spec,
            None if spec.customer is None else plan.customers[spec.customer],
            texts,
            responses,
            values,
            now,
        )
        for spec in plan.conversations
    ]
    removed = remove(database_url=database_url, tracker_url=tracker_url)
    if any(removed.values()):
        progress(f"==> replaced the previous demo data ({sum(removed.values()):,} rows)")
    handoffs, surveys = _store_ours(Database(database_url), plan, rendered, now)
    events = _store_events(tracker_url, rendered, progress)
    summary = DemoSummary(
        conversations=len(rendered), events=events, handoffs=handoffs, surveys=surveys,
        customers=len(plan.customers), channels=dict(Counter(spec.channel for spec in plan.conversations)),
        seconds=time.monotonic() - began,
    )  # fmt: skip
    shares = ", ".join(
        f"{CHANNEL_NAMES.get(name, name)} {100 * n / max(1, summary.conversations):.0f}%"
        for name, n in sorted(summary.channels.items(), key=lambda item: -item[1])
    )
    progress(
        f"==> wrote {summary.conversations:,} demo conversations ({events:,} Rasa events), "
        f"{handoffs} handoffs, {surveys} surveys and {summary.customers} customers "
        f"in {summary.seconds:.1f} s\n    channels: {shares}"
    )
    return summary


def _responses() -> dict[str, Any]:
    from bot.responses import domain_file

    document = yaml.safe_load(domain_file().read_text(encoding="utf-8")) or {}
    return dict(document.get("responses") or {})


def _store_ours(db: Database, plan: MonthPlan, rendered: list[Rendered], now: float) -> tuple[int, int]:
    """Customers, identities, handoffs, surveys and summaries, in one transaction; fills in the ids."""
    with db.session() as session:
        customer_ids = _customers(session, plan, utc(now - 400 * 86400))
        known = {sender: customer_ids[c.index] for c in plan.customers for _, sender in c.identities}
        handoffs = [item for item in rendered if item.handoff is not None]
        for item in handoffs:
            assert item.handoff is not None
            row = Handoff(customer_id=known.get(item.spec.sender), **item.handoff)
            session.add(row)
            session.flush()
            item.handoff["id"] = row.id
            for message in item.agent_messages:
                message.metadata["handoff_id"] = row.id
        surveys = [_survey_row(item, known) for item in rendered if item.survey is not None]
        if surveys:
            session.execute(insert(SurveyRequest), surveys)
        summaries = [
            _summary(item, known[item.spec.sender]) for item in handoffs if item.spec.sender in known
        ]
        if summaries:
            session.execute(insert(Conversation), summaries)
    return len(handoffs), len(surveys)


def _customers(session: Session, plan: MonthPlan, created: datetime) -> dict[int, int]:
    ids: dict[int, int] = {}
    for spec in plan.customers:
        row = Customer(
            name=spec.name, email=spec.email, plan=spec.plan, devices=[], preferences={}, created_at=created
        )
        row.identities = [
            Identity(channel=channel, external_id=sender) for channel, sender in spec.identities
        ]
        session.add(row)
    session.flush()
    rows = session.execute(
        select(Identity.external_id, Identity.customer_id).where(Identity.external_id.startswith(PREFIX))
    )
    by_sender = {str(sender): int(customer) for sender, customer in rows}
    for spec in plan.customers:
        ids[spec.index] = by_sender[spec.identities[0][1]]
    return ids


def _survey_row(item: Rendered, known: dict[str, int]) -> dict[str, Any]:
    assert item.survey is not None
    spec, survey = item.spec, dict(item.survey)
    customer = known.get(spec.sender)
    comment = survey.pop("comment", None)
    row = {
        "conversation_key": f"{spec.sender}@{int(item.session_start)}", "conversation_id": spec.sender,
        "customer_key": f"customer:{customer}" if customer is not None else f"sender:{spec.sender}",
        "channel": spec.channel, "handoff_id": (item.handoff or {}).get("id"), "intents": list(item.intents),
        "comment": redact(comment) if comment else None, "followed_up": False, "score": None,
        "answered_at": None, "commented_at": None, "agent_name": None, "handoff_reason": None,
    }  # fmt: skip
    row.update(survey)
    for moment in ("asked_at", "answered_at", "commented_at"):
        if isinstance(row[moment], float):
            row[moment] = utc(row[moment])
    return row


def _summary(item: Rendered, customer_id: int) -> dict[str, Any]:
    assert item.handoff is not None
    return {
        "customer_id": customer_id, "channel": item.spec.channel, "sender_id": item.spec.sender,
        "started_at": utc(item.spec.start), "summary": f"Handed to a person ({item.handoff['reason']}).",
        "outcome": "handed_off", "handoff_reason": item.handoff["reason"],
    }  # fmt: skip


def _store_events(url: str, rendered: list[Rendered], progress: Progress) -> int:
    """Rows as ``rasa.core.tracker_store.SQLTrackerStore.save`` writes them, inserted in batches."""
    table = _tracker_table(url)
    rows = []
    for item in rendered:
        for event in item.events:
            data = event.as_dict()
            rows.append({
                "sender_id": item.spec.sender, "type_name": event.type_name,
                "timestamp": data.get("timestamp"),
                "intent_name": (data.get("parse_data") or {}).get("intent", {}).get("name"),
                "action_name": data.get("name"), "data": json.dumps(data),
            })  # fmt: skip
    with rasa_engine(url).begin() as connection:
        for start in range(0, len(rows), BATCH):
            connection.execute(table.insert(), rows[start : start + BATCH])
            progress(f"    tracker events {min(start + BATCH, len(rows)):,} / {len(rows):,}")
    return len(rows)


def _tracker_table(url: str) -> Any:
    """Rasa's own ``events`` table definition, created the way Rasa would if it has not run yet."""
    with warnings.catch_warnings():  # Rasa 3.6's models warn about SQLAlchemy 2.0 on import
        warnings.simplefilter("ignore")
        from rasa.core.tracker_store import SQLTrackerStore

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    table = SQLTrackerStore.SQLEvent.__table__
    table.create(rasa_engine(url), checkfirst=True)
    return table


def remove(*, database_url: str, tracker_url: str | None) -> dict[str, int]:
    """Delete every demo row (sender ids starting ``demo-``) and nothing else; rows removed per table."""
    removed: dict[str, int] = {}
    if tracker_url is not None:
        from sqlalchemy import text

        from bot.retention.rasa_tables import missing_table

        try:
            with rasa_engine(tracker_url).begin() as connection:
                result = connection.execute(
                    text("DELETE FROM events WHERE sender_id LIKE :prefix"), {"prefix": PREFIX + "%"}
                )
                removed["events"] = result.rowcount or 0
        except Exception as exc:  # a tracker store Rasa has not created yet holds no demo data
            if not missing_table(exc):  # type: ignore[arg-type]
                raise
    demo = PREFIX + "%"
    with Database(database_url).session() as session:
        handoff_ids = list(session.scalars(select(Handoff.id).where(Handoff.conversation_id.like(demo))))
        cards = [
            ts for ts in session.scalars(select(Handoff.card_ts).where(Handoff.id.in_(handoff_ids))) if ts
        ]
        queues = [f"desk:{n}" for n in handoff_ids]
        customers = set(session.scalars(select(Identity.customer_id).where(Identity.external_id.like(demo))))
        real = set(session.scalars(
            select(Identity.customer_id)
            .where(Identity.customer_id.in_(customers), ~Identity.external_id.like(demo))
        ))  # fmt: skip
        only_demo = sorted(customers - real)  # a real customer who also wrote from a demo- id stays
        steps = [
            ("outbox", OutboxItem, OutboxItem.queue.in_(queues) | OutboxItem.queue.like("customer:" + demo)),
            ("desk_messages", DeskMessage, DeskMessage.ts.in_(cards) | DeskMessage.thread_ts.in_(cards)),
            ("handoffs", Handoff, Handoff.id.in_(handoff_ids)),
            ("survey_requests", SurveyRequest, SurveyRequest.conversation_id.like(demo)),
            (
                "conversations",
                Conversation,
                Conversation.sender_id.like(demo) | Conversation.customer_id.in_(only_demo),
            ),
            ("identities", Identity, Identity.external_id.like(demo)),
            ("customers", Customer, Customer.id.in_(only_demo)),
        ]
        for name, model, where in steps:
            statement = delete(model).where(where).execution_options(synchronize_session=False)
            removed[name] = int(session.execute(statement).rowcount or 0)
    return removed


# --------------------------------------------------------------------------- command line


def add_demo_command(commands: Any) -> None:
    """``demo-month``: called by bot/experience/cli.py with the top-level subparsers."""
    demo = commands.add_parser(
        "demo-month", help="fill a realistic month of demo conversations for the report (not in production)"
    )
    # 60: the report's 30 days and the 30 before them, so "change against the previous period"
    # compares two real months instead of a month with nothing.
    demo.add_argument("--days", type=int, default=60, help="days back (default 60: two report periods)")
    demo.add_argument("--seed", type=int, default=7, help="the same seed gives the same month (default 7)")
    demo.add_argument("--conversations", type=int, default=None, help="about how many (default 50 a day)")
    demo.add_argument(
        "--remove", action="store_true", help="delete the demo data (sender ids demo-…) instead"
    )
    demo.add_argument("--endpoints", type=Path, default=Path("endpoints.yml"),
                      help="the endpoints file Rasa runs with (its tracker_store is written)")  # fmt: skip
    demo.set_defaults(func=cmd_demo_month)


def cmd_demo_month(args: argparse.Namespace) -> int:
    from bot.migrations import upgrade
    from bot.settings import customer_database_url, data_dir, project_root, settings

    try:
        refuse_in_production(settings().security.environment)
        if args.days < 1 or (args.conversations is not None and args.conversations < 1):
            print("error: --days and --conversations must be at least 1", file=sys.stderr)
            return 2
        endpoints = args.endpoints if args.endpoints.is_absolute() else project_root() / args.endpoints
        tracker = tracker_url_for(endpoints, data_dir())
        database = customer_database_url()
        upgrade(database)
        if args.remove:
            removed = remove(database_url=database, tracker_url=tracker)
            print(
                "==> removed the demo data: "
                + (", ".join(f"{n:,} {table}" for table, n in removed.items() if n) or "none")
            )
            return 0
        generate(database_url=database, tracker_url=tracker, seed=args.seed, days=args.days,
                 conversations=args.conversations, environment=settings().security.environment)  # fmt: skip
    except DemoRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("    remove it again with `python -m bot demo-month --remove`")
    return 0
