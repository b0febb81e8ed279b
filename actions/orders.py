"""Order lookups: ask for the order number, validate it, answer status and invoices.

Privacy rule: an order is only discussed with the customer it belongs to (matched by the
channel identity they write from). A first-time sender can prove an order is theirs with a
one-time code mailed to the order's email address (actions/identity.py), which links the
new channel to their account; a known customer asking about an order that is not theirs
(or does not exist: the answer is the same) is offered a person who can verify them.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    SupportAction,
    business,
    customer_store,
    format_day,
    identify,
    mask_email,
)
from actions.identity import offer_identity_check
from bot.customers import CustomerRecord, OrderRecord, normalise_order_number
from bot.db import run_sync

RECENT_ORDER_BUTTONS = 3

STATUS_RESPONSES = {
    "processing": "utter_order_processing",
    "shipped": "utter_order_shipped",
    "delivered": "utter_order_delivered",
    "cancelled": "utter_order_cancelled",
    "returned": "utter_order_returned",
}


def order_details(order: OrderRecord) -> dict[str, str]:
    """Template variables describing an order, for the responses in domain.yml."""
    wording = business().wording
    return {
        "order_number": order.number,
        "items": order.item_summary,
        "placed_on": format_day(order.placed_on),
        "shipped_on": format_day(order.shipped_on),
        "delivered_on": format_day(order.delivered_on),
        "expected_on": format_day(order.expected_on),
        "carrier": order.carrier or wording.unknown_carrier,
        "tracking_number": order.tracking_number or wording.tracking_not_yet,
    }


async def find_order(tracker: Tracker) -> tuple[CustomerRecord, OrderRecord | None]:
    """The sender and the order named in the ``order_number`` slot (None if there is no such order)."""
    number = tracker.get_slot("order_number")
    customer = await identify(tracker)
    order = await run_sync(customer_store().find_order, number) if number else None
    return customer, order


class ActionAskOrderNumber(SupportAction):
    """Ask for the order number, offering a known customer's recent orders as buttons."""

    def name(self) -> str:
        return "action_ask_order_number"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        customer = await identify(tracker)
        orders = await run_sync(customer_store().orders_for, customer.id)
        if not orders:
            dispatcher.utter_message(response="utter_ask_order_number")
            return []
        buttons = [
            {
                "title": f"{order.number} · {order.item_summary} ({order.status})",
                "payload": "/inform" + json.dumps({"order_number": order.number}),
            }
            for order in orders[:RECENT_ORDER_BUTTONS]
        ]
        dispatcher.utter_message(response="utter_ask_order_number_known", buttons=buttons)
        return []


class OrderNumberValidation(FormValidationAction, ABC):
    """Shared validation of ``order_number`` for every form that needs one."""

    @abstractmethod
    def name(self) -> str: ...

    async def validate_order_number(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        number = normalise_order_number(str(slot_value) if slot_value is not None else None)
        if number is None:
            dispatcher.utter_message(response="utter_invalid_order_number", value=slot_value)
            return {"order_number": None}
        return {"order_number": number}


class ValidateOrderStatusForm(OrderNumberValidation):
    def name(self) -> str:
        return "validate_order_status_form"


class ValidateInvoiceForm(OrderNumberValidation):
    def name(self) -> str:
        return "validate_invoice_form"


class OwnedOrderAction(SupportAction, ABC):
    """An answer about the order in the ``order_number`` slot, for its owner only.

    Looks the order up; an order that does not exist and one that is someone else's get
    the same answer (an identity check for a first-time sender, "not on this account" and
    the offer of a person for a known customer); always clears the slot so the next flow
    asks afresh.
    """

    @abstractmethod
    async def answer(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer: CustomerRecord,
        order: OrderRecord,
    ) -> list[EventType]: ...

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        cleared: list[EventType] = [SlotSet("order_number", None)]
        customer, order = await find_order(tracker)
        if order is not None and order.customer_id == customer.id:
            return [*cleared, *await self.answer(dispatcher, tracker, customer, order)]
        # No such order, or someone else's: one answer for both, so the chat is no oracle.
        number = normalise_order_number(tracker.get_slot("order_number")) or ""
        if not customer.is_known:
            return [*cleared, *offer_identity_check(dispatcher, number, self.name())]
        dispatcher.utter_message(response="utter_order_not_on_account", order_number=number)
        return [*cleared, FollowupAction("utter_offer_human")]


class ActionOrderStatus(OwnedOrderAction):
    def name(self) -> str:
        return "action_order_status"

    async def answer(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer: CustomerRecord,
        order: OrderRecord,
    ) -> list[EventType]:
        response = STATUS_RESPONSES.get(order.status, "utter_order_processing")
        dispatcher.utter_message(response=response, **order_details(order))
        return []


class ActionSendInvoice(OwnedOrderAction):
    def name(self) -> str:
        return "action_send_invoice"

    async def answer(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer: CustomerRecord,
        order: OrderRecord,
    ) -> list[EventType]:
        dispatcher.utter_message(
            response="utter_invoice_sent", order_number=order.number, email=mask_email(customer.email)
        )
        return []


CANCEL_RESPONSES = {
    "processing": "utter_cancel_order_processing",
    "shipped": "utter_cancel_order_shipped",
    "delivered": "utter_cancel_order_delivered",
    "cancelled": "utter_order_cancelled",
    "returned": "utter_order_returned",
}
OPEN_STATUSES = ("processing", "shipped")


class ActionCancelOrder(SupportAction):
    """A cancellation request: the advice the order's real state allows, not "cancel it before it ships".

    The order is the one named (if it is the sender's), else the sender's only order still
    on its way; without one (or for a stranger: no disclosure) the general advice.
    """

    def name(self) -> str:
        return "action_cancel_order"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        customer, order = await find_order(tracker)
        if order is not None and order.customer_id != customer.id:
            order = None
        if order is None and customer.is_known and not tracker.get_slot("order_number"):
            orders = await run_sync(customer_store().orders_for, customer.id)
            on_the_way = [o for o in orders if o.status in OPEN_STATUSES]
            order = on_the_way[0] if len(on_the_way) == 1 else None
        if order is None:
            dispatcher.utter_message(response="utter_cancel_order")
        else:
            dispatcher.utter_message(
                response=CANCEL_RESPONSES.get(order.status, "utter_cancel_order"),
                **order_details(order),
                return_window_days=business().return_window_days,
            )
        return [SlotSet("order_number", None)]
