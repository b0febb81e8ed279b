"""Order lookups: ask for the order number, validate it, answer status and invoices.

Privacy rule: an order is only discussed with the customer it belongs to (matched by the
channel identity they write from); anyone else is offered a person who can verify them.
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
    customer_store,
    format_day,
    identify,
    mask_email,
)
from bot.customers import CustomerRecord, OrderRecord, normalise_order_number, run_sync

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
    return {
        "order_number": order.number,
        "items": order.item_summary,
        "placed_on": format_day(order.placed_on),
        "shipped_on": format_day(order.shipped_on),
        "delivered_on": format_day(order.delivered_on),
        "expected_on": format_day(order.expected_on),
        "carrier": order.carrier or "our courier",
        "tracking_number": order.tracking_number or "not available yet",
    }


async def owned_order(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> tuple[CustomerRecord, OrderRecord] | None:
    """The customer's order named in the ``order_number`` slot, or None after telling them why."""
    number = tracker.get_slot("order_number")
    customer = await identify(tracker)
    order = await run_sync(customer_store().find_order, number) if number else None
    if order is None:
        dispatcher.utter_message(response="utter_order_not_found", order_number=number)
        return None
    if order.customer_id != customer.id:
        dispatcher.utter_message(response="utter_order_not_yours", order_number=order.number)
        return None
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


class ValidateReturnForm(OrderNumberValidation):
    def name(self) -> str:
        return "validate_return_form"


class ValidateInvoiceForm(OrderNumberValidation):
    def name(self) -> str:
        return "validate_invoice_form"


class OwnedOrderAction(SupportAction, ABC):
    """An answer about the order in the ``order_number`` slot, for its owner only.

    Looks the order up, answers "not found" / "not yours" with the offer of a person
    otherwise, and always clears the slot so the next flow asks afresh.
    """

    @abstractmethod
    async def answer(
        self, dispatcher: CollectingDispatcher, customer: CustomerRecord, order: OrderRecord
    ) -> list[EventType]: ...

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        cleared: list[EventType] = [SlotSet("order_number", None)]
        found = await owned_order(dispatcher, tracker)
        if found is None:
            return [*cleared, FollowupAction("utter_offer_human")]
        return [*cleared, *await self.answer(dispatcher, *found)]


class ActionOrderStatus(OwnedOrderAction):
    def name(self) -> str:
        return "action_order_status"

    async def answer(
        self, dispatcher: CollectingDispatcher, customer: CustomerRecord, order: OrderRecord
    ) -> list[EventType]:
        response = STATUS_RESPONSES.get(order.status, "utter_order_processing")
        dispatcher.utter_message(response=response, **order_details(order))
        return []


class ActionSendInvoice(OwnedOrderAction):
    def name(self) -> str:
        return "action_send_invoice"

    async def answer(
        self, dispatcher: CollectingDispatcher, customer: CustomerRecord, order: OrderRecord
    ) -> list[EventType]:
        dispatcher.utter_message(
            response="utter_invoice_sent", order_number=order.number, email=mask_email(customer.email)
        )
        return []
