"""Plain, immutable snapshots of store rows.

Actions and the context packet work with these instead of ORM objects, so nothing
outside the store ever holds a database session or triggers a lazy load.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class IdentityRecord:
    channel: str
    external_id: str
    handle: str | None = None


@dataclass(frozen=True)
class CustomerRecord:
    id: int
    name: str | None
    email: str | None
    plan: str | None
    devices: tuple[str, ...] = ()
    preferences: dict[str, Any] = field(default_factory=dict)
    identities: tuple[IdentityRecord, ...] = ()

    @property
    def is_known(self) -> bool:
        """A customer we know by name (not a first-time visitor we only have an id for)."""
        return bool(self.name)

    @property
    def first_name(self) -> str | None:
        return self.name.split()[0] if self.name else None


@dataclass(frozen=True)
class OrderItemRecord:
    product: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class ReturnRecord:
    id: int
    order_number: str
    status: str
    created_on: date
    refund_cents: int
    refunded_on: date | None = None
    items: tuple[str, ...] = ()  # products sent back; () for an old return of the whole order
    reason: str | None = None  # faulty, not_as_expected, not_needed, other
    reason_note: str | None = None  # the customer's own words, redacted


@dataclass(frozen=True)
class OrderRecord:
    number: str
    customer_id: int
    status: str
    placed_on: date
    items: tuple[OrderItemRecord, ...]
    total_cents: int
    currency: str
    shipped_on: date | None = None
    delivered_on: date | None = None
    expected_on: date | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    returns: tuple[ReturnRecord, ...] = ()

    @property
    def item_summary(self) -> str:
        """Human wording of the items: "Hearthlink Cam", "2 × Smart Plug and Hub"."""
        return self.summary_of([item.product for item in self.items])

    def lines_of(self, products: Iterable[str]) -> tuple[OrderItemRecord, ...]:
        """The order's lines for these product names, in the order's own order."""
        wanted = set(products)
        return tuple(item for item in self.items if item.product in wanted)

    def summary_of(self, products: Iterable[str]) -> str:
        """:attr:`item_summary` of some of the items only (those a return takes back)."""
        parts = [
            f"{item.quantity} × {item.product}" if item.quantity > 1 else item.product
            for item in self.lines_of(products)
        ]
        if len(parts) <= 1:
            return parts[0] if parts else "your items"
        return ", ".join(parts[:-1]) + " and " + parts[-1]


@dataclass(frozen=True)
class ConversationRecord:
    channel: str
    started_at: datetime
    summary: str
    outcome: str
    handoff_reason: str | None = None


def to_jsonable(value: Any) -> Any:
    """Dataclass records (and dates inside them) as JSON-ready structures."""
    if hasattr(value, "__dataclass_fields__"):
        value = asdict(value)
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
