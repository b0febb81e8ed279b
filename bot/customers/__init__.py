"""Customer store: customers, their channel identities, orders, returns, conversations."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from bot.customers.records import (
    ConversationRecord,
    CustomerRecord,
    IdentityRecord,
    OrderItemRecord,
    OrderRecord,
    ReturnRecord,
)
from bot.customers.store import CustomerStore, normalise_order_number

P = ParamSpec("P")
T = TypeVar("T")


async def run_sync(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking store call in a worker thread so the event loop keeps serving."""
    return await asyncio.to_thread(func, *args, **kwargs)


__all__ = [
    "ConversationRecord",
    "CustomerRecord",
    "CustomerStore",
    "IdentityRecord",
    "OrderItemRecord",
    "OrderRecord",
    "ReturnRecord",
    "normalise_order_number",
    "run_sync",
]
