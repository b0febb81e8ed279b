"""The customer store: who a sender is, their orders, returns and past conversations.

Synchronous SQLAlchemy (Rasa 3.6 pins SQLAlchemy 1.4) behind a small API of plain
records, on the shared database (bot/db.py). Async callers (rasa-sdk actions) use
:func:`bot.db.run_sync` so a slow database never blocks the action server's event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot.customers.models import Conversation, Customer, Identity, Order, Return
from bot.customers.records import (
    ConversationRecord,
    CustomerRecord,
    IdentityRecord,
    OrderItemRecord,
    OrderRecord,
    ReturnRecord,
)
from bot.db import Database
from bot.order_numbers import normalise as normalise_order_number  # one format: nlu_data/entities.yml
from bot.redact import redact

ORDER_STATUSES = ("processing", "shipped", "delivered", "cancelled", "returned")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class CustomerStore:
    """Read and write customers; one instance per database URL is cheap (engines are shared).

    The tables are made by the migrations (``python -m bot db upgrade``), not by the store.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = Database(url)

    def session(self) -> AbstractContextManager[Session]:
        """One transaction on the shared database (see :meth:`bot.db.Database.session`)."""
        return self.db.session()

    # --- customers ---------------------------------------------------------------------

    def find_by_identity(self, channel: str, external_id: str) -> CustomerRecord | None:
        """The customer behind a sender id on a channel, or None for someone new."""
        with self.session() as session:
            customer = session.scalar(
                select(Customer)
                .join(Identity)
                .where(Identity.channel == channel, Identity.external_id == external_id)
                .options(selectinload(Customer.identities))
            )
            return _customer_record(customer) if customer else None

    def get_or_create_by_identity(
        self, channel: str, external_id: str, handle: str | None = None
    ) -> CustomerRecord:
        """Known customer for this sender, or a new nameless customer record for them."""
        found = self.find_by_identity(channel, external_id)
        if found:
            return found
        with self.session() as session:
            customer = Customer(devices=[], preferences={}, created_at=_utcnow())
            customer.identities.append(Identity(channel=channel, external_id=external_id, handle=handle))
            session.add(customer)
            session.flush()
            return _customer_record(customer)

    def link_identity(
        self, customer_id: int, channel: str, external_id: str, handle: str | None = None
    ) -> CustomerRecord:
        """Attach another channel account to a known customer (once they proved who they are)."""
        with self.session() as session:
            existing = session.scalar(
                select(Identity).where(Identity.channel == channel, Identity.external_id == external_id)
            )
            if existing is None:
                session.add(
                    Identity(customer_id=customer_id, channel=channel, external_id=external_id, handle=handle)
                )
            else:
                existing.customer_id = customer_id
        return self.get_customer(customer_id)

    def get_customer(self, customer_id: int) -> CustomerRecord | None:
        with self.session() as session:
            customer = session.get(Customer, customer_id, options=[selectinload(Customer.identities)])
            return _customer_record(customer) if customer else None

    def add_customer(
        self,
        *,
        name: str | None,
        email: str | None = None,
        plan: str | None = None,
        devices: list[str] | None = None,
        preferences: dict | None = None,
        identities: list[IdentityRecord] = (),
    ) -> CustomerRecord:
        with self.session() as session:
            customer = Customer(
                name=name,
                email=email,
                plan=plan,
                devices=list(devices or []),
                preferences=dict(preferences or {}),
                created_at=_utcnow(),
            )
            for identity in identities:
                customer.identities.append(
                    Identity(
                        channel=identity.channel,
                        external_id=identity.external_id,
                        handle=identity.handle,
                    )
                )
            session.add(customer)
            session.flush()
            return _customer_record(customer)

    def customer_count(self) -> int:
        with self.session() as session:
            return session.scalar(select(func.count(Customer.id))) or 0

    # --- orders and returns ------------------------------------------------------------

    def orders_for(self, customer_id: int) -> list[OrderRecord]:
        """The customer's orders, newest first."""
        with self.session() as session:
            orders = session.scalars(
                select(Order)
                .where(Order.customer_id == customer_id)
                .order_by(Order.placed_on.desc(), Order.id.desc())
                .options(selectinload(Order.items), selectinload(Order.returns))
            ).all()
            return [_order_record(order) for order in orders]

    def find_order(self, number: str) -> OrderRecord | None:
        normalised = normalise_order_number(number)
        if not normalised:
            return None
        with self.session() as session:
            order = session.scalar(
                select(Order)
                .where(Order.number == normalised)
                .options(selectinload(Order.items), selectinload(Order.returns))
            )
            return _order_record(order) if order else None

    def start_return(
        self,
        number: str,
        today: date,
        products: Sequence[str] | None = None,
        reason: str | None = None,
        reason_note: str | None = None,
    ) -> ReturnRecord:
        """Open a return for a delivered order; the caller has checked eligibility.

        ``products``: the product names sent back (None: the whole order). The refund is
        what those lines cost (the order's total when every line goes back). ``reason_note``
        quotes the customer, so it is redacted here too: no secrets at rest.
        """
        with self.session() as session:
            order = session.scalar(
                select(Order).where(Order.number == number).options(selectinload(Order.items))
            )
            if order is None:
                raise LookupError(f"no order {number}")
            on_order = [item.product for item in order.items]
            chosen = list(dict.fromkeys(products)) if products is not None else on_order
            unknown = [product for product in chosen if product not in on_order]
            if unknown or not chosen:
                raise ValueError(f"order {number} has no items {unknown or chosen!r}")
            if set(chosen) == set(on_order):
                refund = order.total_cents
            else:
                refund = sum(i.unit_price_cents * i.quantity for i in order.items if i.product in chosen)
            record = Return(
                status="label_sent",
                created_on=today,
                refund_cents=refund,
                items=[product for product in on_order if product in chosen],
                reason=reason,
                reason_note=redact(reason_note) if reason_note else None,
            )
            order.returns.append(record)
            session.flush()
            return _return_record(record, order.number)

    # --- conversations -----------------------------------------------------------------

    def recent_conversations(self, customer_id: int, limit: int = 5) -> list[ConversationRecord]:
        with self.session() as session:
            rows = session.scalars(
                select(Conversation)
                .where(Conversation.customer_id == customer_id)
                .order_by(Conversation.started_at.desc(), Conversation.id.desc())
                .limit(limit)
            ).all()
            return [
                ConversationRecord(
                    channel=row.channel,
                    started_at=row.started_at,
                    summary=row.summary,
                    outcome=row.outcome,
                    handoff_reason=row.handoff_reason,
                )
                for row in rows
            ]

    def record_conversation(
        self,
        customer_id: int,
        *,
        channel: str,
        sender_id: str | None,
        summary: str,
        outcome: str,
        handoff_reason: str | None = None,
        started_at: datetime | None = None,
    ) -> None:
        with self.session() as session:
            session.add(
                Conversation(
                    customer_id=customer_id,
                    channel=channel,
                    sender_id=sender_id,
                    started_at=started_at or _utcnow(),
                    summary=redact(summary),  # it quotes the customer: no secrets at rest
                    outcome=outcome,
                    handoff_reason=redact(handoff_reason) if handoff_reason else handoff_reason,
                )
            )


def _customer_record(customer: Customer) -> CustomerRecord:
    return CustomerRecord(
        id=customer.id,
        name=customer.name,
        email=customer.email,
        plan=customer.plan,
        devices=tuple(customer.devices or ()),
        preferences=dict(customer.preferences or {}),
        identities=tuple(
            IdentityRecord(channel=i.channel, external_id=i.external_id, handle=i.handle)
            for i in customer.identities
        ),
    )


def _return_record(record: Return, order_number: str) -> ReturnRecord:
    return ReturnRecord(
        id=record.id,
        order_number=order_number,
        status=record.status,
        created_on=record.created_on,
        refund_cents=record.refund_cents,
        refunded_on=record.refunded_on,
        items=tuple(record.items or ()),
        reason=record.reason,
        reason_note=record.reason_note,
    )


def _order_record(order: Order) -> OrderRecord:
    return OrderRecord(
        number=order.number,
        customer_id=order.customer_id,
        status=order.status,
        placed_on=order.placed_on,
        items=tuple(
            OrderItemRecord(
                product=item.product,
                quantity=item.quantity,
                unit_price_cents=item.unit_price_cents,
            )
            for item in order.items
        ),
        total_cents=order.total_cents,
        currency=order.currency,
        shipped_on=order.shipped_on,
        delivered_on=order.delivered_on,
        expected_on=order.expected_on,
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        returns=tuple(_return_record(r, order.number) for r in order.returns),
    )
