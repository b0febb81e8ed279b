"""SQLAlchemy tables of the customer store.

One person is one ``Customer`` however many channels they write from: each channel
account (X user id, web-chat visitor id, Slack user) is an ``Identity`` row pointing at
the customer. Portable column types only, so SQLite and PostgreSQL share one schema; a
change here needs a migration (``python -m bot db revision -m "..."``).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from bot.db import Base


class Customer(Base):
    __tablename__ = "customers"

    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=True)  # None for a new, not yet known customer
    email = Column(String(320), nullable=True, index=True)
    plan = Column(String(100), nullable=True)  # internet plan, e.g. "Fiber 1000"
    devices = Column(JSON, nullable=False, default=list)  # device models they own
    preferences = Column(JSON, nullable=False, default=dict)
    created_at = Column(DateTime, nullable=False)

    identities = relationship("Identity", back_populates="customer", cascade="all, delete-orphan")
    orders = relationship("Order", back_populates="customer", cascade="all, delete-orphan")
    conversations = relationship("Conversation", back_populates="customer", cascade="all, delete-orphan")


class Identity(Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_identity_channel_id"),)

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False)
    channel = Column(String(50), nullable=False)  # Rasa input channel name: rest, twitter, ...
    external_id = Column(String(200), nullable=False)  # the sender id on that channel
    handle = Column(String(200), nullable=True)  # display handle, e.g. "@maria_l"

    customer = relationship("Customer", back_populates="identities")


class Order(Base):
    __tablename__ = "orders"

    id = Column(Integer, primary_key=True)
    number = Column(String(20), nullable=False, unique=True)  # "HL-104233"
    customer_id = Column(Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False)
    status = Column(String(30), nullable=False)  # see store.ORDER_STATUSES
    placed_on = Column(Date, nullable=False)
    shipped_on = Column(Date, nullable=True)
    delivered_on = Column(Date, nullable=True)
    expected_on = Column(Date, nullable=True)
    carrier = Column(String(50), nullable=True)
    tracking_number = Column(String(100), nullable=True)
    total_cents = Column(Integer, nullable=False, default=0)
    currency = Column(String(3), nullable=False, default="USD")

    customer = relationship("Customer", back_populates="orders")
    items = relationship("OrderItem", back_populates="order", cascade="all, delete-orphan")
    returns = relationship("Return", back_populates="order", cascade="all, delete-orphan")


class OrderItem(Base):
    __tablename__ = "order_items"

    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    product = Column(String(200), nullable=False)
    quantity = Column(Integer, nullable=False, default=1)
    unit_price_cents = Column(Integer, nullable=False, default=0)

    order = relationship("Order", back_populates="items")


class Return(Base):
    __tablename__ = "returns"

    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    status = Column(String(30), nullable=False)  # label_sent, received, refunded
    created_on = Column(Date, nullable=False)
    refund_cents = Column(Integer, nullable=False, default=0)
    refunded_on = Column(Date, nullable=True)
    # What the customer chose in the chat (actions/return_form.py); NULL on returns opened
    # before they could choose, which took the whole order.
    items = Column(JSON, nullable=True)  # product names, e.g. ["Hearthlink Hub"]
    reason = Column(String(30), nullable=True)  # faulty, not_as_expected, not_needed, other
    reason_note = Column(Text, nullable=True)  # the customer's own words, redacted

    order = relationship("Order", back_populates="returns")


class Conversation(Base):
    """A past conversation, summarised: what an agent needs to know, not the full tracker."""

    __tablename__ = "conversations"

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False)
    channel = Column(String(50), nullable=False)
    sender_id = Column(String(200), nullable=True)
    started_at = Column(DateTime, nullable=False)
    summary = Column(Text, nullable=False)
    outcome = Column(String(30), nullable=False)  # resolved_by_bot, handed_off, resolved_by_agent
    handoff_reason = Column(Text, nullable=True)

    customer = relationship("Customer", back_populates="conversations")
