"""Customer store: customers, their channel identities, orders, returns, conversations."""

from __future__ import annotations

from bot.customers.records import (
    ConversationRecord,
    CustomerRecord,
    IdentityRecord,
    OrderItemRecord,
    OrderRecord,
    ReturnRecord,
)
from bot.customers.store import CustomerStore, normalise_order_number

__all__ = [
    "ConversationRecord",
    "CustomerRecord",
    "CustomerStore",
    "IdentityRecord",
    "OrderItemRecord",
    "OrderRecord",
    "ReturnRecord",
    "normalise_order_number",
]
