"""Load the shipped demo customers into a customer store (``supportbot load-demo-data``)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from bot.customers.models import Conversation, Customer, Identity, Order, OrderItem, Return
from bot.customers.store import CustomerStore

DEMO_FILE = Path(__file__).with_name("demo_customers.yml")


def _days_ago(today: date, days: int | None) -> date | None:
    return None if days is None else today - timedelta(days=int(days))


def _cents(amount: float) -> int:
    return round(float(amount) * 100)


def load_demo_data(store: CustomerStore, path: Path = DEMO_FILE, today: date | None = None) -> int:
    """Insert the demo customers that are not in the store yet; returns how many were added.

    Idempotent: a customer whose first identity already exists is left as it is, so the
    command is safe to run on every start. The database must have the current schema
    (``bot.migrations.upgrade``; ``python -m bot load-demo-data`` upgrades it first).
    """
    today = today or date.today()
    spec: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    added = 0
    with store.session() as session:
        for entry in spec.get("customers", []):
            first = entry["identities"][0]
            exists = session.scalar(
                select(Identity.id).where(
                    Identity.channel == first["channel"],
                    Identity.external_id == str(first["external_id"]),
                )
            )
            if exists:
                continue
            session.add(_customer(entry, today))
            added += 1
    return added


def _customer(entry: dict[str, Any], today: date) -> Customer:
    customer = Customer(
        name=entry["name"],
        email=entry.get("email"),
        plan=entry.get("plan"),
        devices=list(entry.get("devices", [])),
        preferences=dict(entry.get("preferences", {})),
        created_at=datetime.combine(today - timedelta(days=400), time(9)),
    )
    for identity in entry["identities"]:
        customer.identities.append(
            Identity(
                channel=identity["channel"],
                external_id=str(identity["external_id"]),
                handle=identity.get("handle"),
            )
        )
    for spec in entry.get("orders", []):
        items = [
            OrderItem(
                product=item["product"],
                quantity=int(item.get("quantity", 1)),
                unit_price_cents=_cents(item["unit_price"]),
            )
            for item in spec["items"]
        ]
        expected = spec.get("expected_in_days")
        order = Order(
            number=spec["number"],
            status=spec["status"],
            placed_on=_days_ago(today, spec["placed_days_ago"]),
            shipped_on=_days_ago(today, spec.get("shipped_days_ago")),
            delivered_on=_days_ago(today, spec.get("delivered_days_ago")),
            expected_on=None if expected is None else today + timedelta(days=int(expected)),
            carrier=spec.get("carrier"),
            tracking_number=spec.get("tracking_number"),
            total_cents=sum(i.unit_price_cents * i.quantity for i in items),
            currency=spec.get("currency", "USD"),
            items=items,
        )
        for ret in spec.get("returns", []):
            order.returns.append(
                Return(
                    status=ret["status"],
                    created_on=_days_ago(today, ret["days_ago"]),
                    refund_cents=order.total_cents,
                    refunded_on=_days_ago(today, ret.get("refunded_days_ago")),
                )
            )
        customer.orders.append(order)
    for conv in entry.get("conversations", []):
        customer.conversations.append(
            Conversation(
                channel=conv["channel"],
                started_at=datetime.combine(_days_ago(today, conv["days_ago"]), time(14)),
                summary=conv["summary"],
                outcome=conv["outcome"],
                handoff_reason=conv.get("handoff_reason"),
            )
        )
    return customer
