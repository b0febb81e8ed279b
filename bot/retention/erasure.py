"""Everything we hold about one customer: found, exported (``python -m bot export``) and erased (``erase``).

Why by columns and not by a list of tables: features add tables all the time (agent
accounts, identity checks…), and a table forgotten by an erasure list keeps a customer's
data for ever. So every table of ``bot.migrations.tables`` is covered by what its columns
say: ``customer_id``, ``conversation_id``/``sender_id``, ``email`` and ``order_number`` match
the customer directly, a foreign key to a matched row matches too (order items of their orders). The
few tables linked otherwise have a rule in :data:`LINKED`; tables that hold nothing about
a customer are listed in :data:`NOT_ABOUT_CUSTOMERS` with the reason, and a test fails
for any table in neither and without such a column. Rasa's tables (its tracker store and
SQL event broker, bot/retention/rasa_tables.py) are covered by sender id, and the
customer's handoff cards and threads in Slack are deleted (bot/retention/slack_cleanup.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.customers.models import Conversation, Customer, Identity, Order
from bot.customers.records import to_jsonable
from bot.db import Database
from bot.handoff.desks.inbox.desk import InboxDesk
from bot.handoff.models import Handoff
from bot.metrics.counting import event_key
from bot.migrations.tables import metadata
from bot.retention import rasa_tables
from bot.retention.audit import record
from bot.retention.rasa_tables import RasaStores, rasa_engine

CUSTOMER_COLUMNS = frozenset({"customer_id"})
CONVERSATION_COLUMNS = frozenset({"conversation_id", "sender_id"})
EMAIL_COLUMNS = frozenset({"email"})
ORDER_COLUMNS = frozenset({"order_number"})  # e.g. identity_checks: someone asked about their order

NOT_ABOUT_CUSTOMERS: dict[str, str] = {
    "stream_cursors": "reading positions of the event consumers",
    "metrics_daily": "daily totals by channel, intent and handoff reason; no person in them",
    "x_seen_events": "ids of X events already handled, no content; pruned after retention.x_seen_events_days",
    "retention_audit": "counts of what was removed and an internal customer number, never the data",
    "inbox_agents": "the agents' own accounts, not customers'",
    "slack_home_views": "which agents opened the Slack app's Home tab (their Slack user ids), no customer",
    "inbox_sessions": "the agents' login sessions",
    "inbox_login_failures": "the agents' failed logins",
}


class ErasureError(RuntimeError):
    """The customer cannot be found or erased; the message says why and what to do."""


@dataclass(frozen=True)
class Subject:
    """One customer as our tables know them: ids, conversation ids and what names them in free text."""

    customer_ids: frozenset[int]
    emails: frozenset[str]
    conversation_ids: frozenset[str]
    handoff_ids: frozenset[int]
    cards: tuple[tuple[str, str], ...]  # (desk channel, card ts) of their handoffs
    # What names them in free text (emails, order numbers, @handles): searched in outbox payloads.
    # Not conversation ids: "1234" or "maria" would match other customers' messages.
    identifiers: frozenset[str] = field(default=frozenset())
    order_numbers: frozenset[str] = field(default=frozenset())

    @property
    def label(self) -> str:
        """How the audit line names them: internal numbers only."""
        return "customer " + ", ".join(f"#{number}" for number in sorted(self.customer_ids))


def find_subject(session: Session, who: str) -> Subject:
    """The customer with email ``who`` (any case) or customer number ``who``."""
    wanted = who.strip()
    if "@" in wanted:
        where: ColumnElement[bool] = func.lower(Customer.email) == wanted.lower()
    elif wanted.isdigit():
        where = Customer.id == int(wanted)
    else:
        raise ErasureError(f"{who!r} is neither an email address nor a customer number (e.g. 12)")
    customers = session.scalars(select(Customer).where(where)).all()
    if not customers:
        raise ErasureError(f"no customer with {'email' if '@' in wanted else 'number'} {wanted}")
    ids = frozenset(customer.id for customer in customers)
    emails = frozenset(c.email.lower() for c in customers if c.email)
    identities = session.execute(
        select(Identity.external_id, Identity.handle).where(Identity.customer_id.in_(ids))
    ).all()
    conversations = set(
        session.scalars(select(Conversation.sender_id).where(Conversation.customer_id.in_(ids)))
    )
    conversation_ids = {row.external_id for row in identities} | {c for c in conversations if c}
    handoffs = session.execute(
        select(
            Handoff.id, Handoff.conversation_id, Handoff.desk_channel, Handoff.card_ts, Handoff.earlier_cards
        ).where(or_(Handoff.customer_id.in_(ids), Handoff.conversation_id.in_(conversation_ids)))
    ).all()
    conversation_ids |= {row.conversation_id for row in handoffs}
    orders = set(session.scalars(select(Order.number).where(Order.customer_id.in_(ids))))
    handles = {row.handle for row in identities if row.handle}
    return Subject(
        customer_ids=ids,
        emails=emails,
        conversation_ids=frozenset(conversation_ids),
        handoff_ids=frozenset(row.id for row in handoffs),
        cards=tuple(
            (channel, ts)
            for row in handoffs
            for channel, ts in [(row.desk_channel, row.card_ts), *(row.earlier_cards or [])]
            if channel and ts
        ),
        identifiers=frozenset({*emails, *orders, *handles}),
        order_numbers=frozenset(orders),
    )


# --------------------------------------------------------------------------- which rows


def _linked_desk_messages(table: Table, subject: Subject, _session: Session) -> ColumnElement[bool]:
    cards = [ts for _channel, ts in subject.cards]
    return or_(table.c.ts.in_(cards), table.c.thread_ts.in_(cards))


def _linked_outbox(table: Table, subject: Subject, session: Session) -> ColumnElement[bool]:
    """Items on the customer's queues, for their handoffs, or naming them in their payload."""
    rows = session.execute(select(table.c.id, table.c.queue, table.c.payload)).all()
    return table.c.id.in_([row.id for row in rows if outbox_item_is_about(subject, row.queue, row.payload)])


def outbox_item_is_about(subject: Subject, queue: str, payload: Any) -> bool:
    """Pure: whether one outbox item belongs to (or names) the customer."""
    queues = {f"desk:{number}" for number in subject.handoff_ids}
    queues |= {f"{prefix}{cid}" for cid in subject.conversation_ids for prefix in ("customer:", "x:dm:")}
    if queue in queues:
        return True
    data = payload if isinstance(payload, dict) else {}
    if data.get("handoff_id") in subject.handoff_ids:
        return True
    if str(data.get("conversation_id") or data.get("user_id") or "") in subject.conversation_ids:
        return True
    text = json.dumps(payload, default=str).lower()
    return any(identifier.lower() in text for identifier in subject.identifiers if len(identifier) >= 4)


def _linked_metric_keys(metric_keys: set[str]) -> Callable[[Table, Subject, Session], ColumnElement[bool]]:
    def where(table: Table, _subject: Subject, _session: Session) -> ColumnElement[bool]:
        return table.c.key.in_(sorted(metric_keys))

    return where


LINKED: dict[str, str] = {
    "desk_messages": "the local inbox's card and thread of each of their handoffs (ts / thread_ts)",
    "slack_posts": "the record of the Slack cards and threads of their handoffs (ts / thread_ts)",
    "outbox": "items on their queues, for their handoffs, or naming them in the payload",
    "metrics_counted_events": "keys hashed from their conversations' events (bot/metrics/counting.py)",
}


def plan(session: Session, subject: Subject, metric_keys: set[str]) -> dict[str, ColumnElement[bool]]:
    """table name -> the WHERE clause of the customer's rows, parents before children."""
    linked = {
        "desk_messages": _linked_desk_messages,
        "slack_posts": _linked_desk_messages,
        "outbox": _linked_outbox,
        "metrics_counted_events": _linked_metric_keys(metric_keys),
    }
    planned: dict[str, ColumnElement[bool]] = {}
    for table in metadata().sorted_tables:
        clauses: list[ColumnElement[bool]] = []
        if table.name == Customer.__tablename__:
            clauses.append(table.c.id.in_(subject.customer_ids))
        for column in table.columns:
            if column.name in CUSTOMER_COLUMNS:
                clauses.append(column.in_(subject.customer_ids))
            elif column.name in CONVERSATION_COLUMNS:
                clauses.append(column.in_(sorted(subject.conversation_ids)))
            elif column.name in EMAIL_COLUMNS:
                clauses.append(func.lower(column).in_(sorted(subject.emails)))
            elif column.name in ORDER_COLUMNS:
                clauses.append(func.upper(column).in_(sorted(subject.order_numbers)))
            for key in column.foreign_keys:
                parent = key.column.table
                if parent.name in planned:
                    clauses.append(column.in_(select(key.column).where(planned[parent.name])))
        if table.name in linked:
            clauses.append(linked[table.name](table, subject, session))
        if clauses:
            planned[table.name] = or_(*clauses)
    return planned


# --------------------------------------------------------------------------- export and erase


@dataclass
class Erasure:
    """Export or erase one customer in our database and Rasa's SQL stores (and Slack, for erase)."""

    database_url: str
    stores: RasaStores

    def export(self, who: str) -> dict[str, Any]:
        """Every row we hold about ``who`` (email or customer number), as JSON-ready data."""
        db = Database(self.database_url)
        with db.session() as session:
            subject = find_subject(session, who)
            events = self._rasa_events(subject)
            tables = {}
            for name, where in plan(session, subject, _metric_keys(events)).items():
                table = metadata().tables[name]
                rows = [dict(row._mapping) for row in session.execute(select(table).where(where))]
                if rows:
                    tables[name] = to_jsonable(rows)
        return {
            "customer": sorted(subject.customer_ids),
            "conversation_ids": sorted(subject.conversation_ids),
            "tables": tables,
            "rasa": {
                store: [{"id": i, "sender_id": s, "event": e} for i, s, e in rows]
                for store, rows in events.items()
            },
        }

    def erase(self, who: str, slack: Callable[[list[tuple[str, str]]], dict[str, int]] | None) -> str:
        """Remove everything about ``who``; ``slack`` deletes Slack cards + threads (None: keep them).

        Slack goes first: if it fails nothing is erased yet, so running erase again finds
        the cards. Returns the audit line (counts per table, never the data), also stored.
        """
        db = Database(self.database_url)
        with db.session() as session:
            subject = find_subject(session, who)
        events = self._rasa_events(subject)
        counts: dict[str, int] = {}
        slack_cards = [card for card in subject.cards if card[0] != InboxDesk.channel]
        if slack is not None and slack_cards:
            counts.update(slack(slack_cards))
        with db.session() as session:
            planned = plan(session, subject, _metric_keys(events))
            for name in reversed(list(planned)):  # children before the rows they point at
                table = metadata().tables[name]
                counts[name] = int(session.execute(table.delete().where(planned[name])).rowcount or 0)
        for store, url in (
            ("rasa_tracker_events", self.stores.tracker_url),
            ("rasa_broker_events", self.stores.broker_url),
        ):
            if url is not None:
                with rasa_engine(url).begin() as connection:
                    counts[store] = rasa_tables.delete_conversations(connection, subject.conversation_ids)
        with db.session() as session:
            return record(session, "erase", subject.label, counts)

    def _rasa_events(self, subject: Subject) -> dict[str, list[tuple[int, str, dict[str, Any]]]]:
        found = {}
        for store, url in (
            ("tracker_store", self.stores.tracker_url),
            ("event_broker", self.stores.broker_url),
        ):
            if url is not None:
                with rasa_engine(url).connect() as connection:
                    found[store] = rasa_tables.events_of(connection, subject.conversation_ids)
        return found


def _metric_keys(events: dict[str, list[tuple[int, str, dict[str, Any]]]]) -> set[str]:
    """The metrics' counted-event keys of these events (the same hash the metrics store keeps)."""
    return {event_key(sender, data) for rows in events.values() for _id, sender, data in rows}
