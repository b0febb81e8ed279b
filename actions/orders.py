"""Order lookups: ask for the order number, validate it, answer status and invoices.

Privacy rule: an order is only discussed with the customer it belongs to (matched by the
channel identity they write from). A first-time sender can prove an order is theirs with
its email address, which links the new channel to their account; a known customer
asking about someone else's order is offered a person who can verify them.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.account import validated_email
from actions.common import (
    SupportAction,
    business,
    channel_of,
    customer_store,
    format_day,
    identify,
    mask_email,
)
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


def verify_first(order: OrderRecord, action: str) -> list[EventType]:
    """Ask a first-time sender to prove the order is theirs (its email), then run ``action``.

    The same person writing from a new channel (a new X account, a new browser) is a new,
    nameless customer to us; knowing an order number *and* its email is enough to link
    this channel to their account — and nothing about the order is shown before that.
    """
    return [
        SlotSet("pending_order", order.number),
        SlotSet("pending_action", action),
        SlotSet("email", None),
        FollowupAction("verify_identity_form"),
    ]


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
        customer, order = await find_order(tracker)
        if order is None:
            dispatcher.utter_message(
                response="utter_order_not_found", order_number=tracker.get_slot("order_number")
            )
            return [*cleared, FollowupAction("utter_offer_human")]
        if order.customer_id != customer.id:
            if not customer.is_known:
                return [*cleared, *verify_first(order, self.name())]
            dispatcher.utter_message(response="utter_order_not_yours", order_number=order.number)
            return [*cleared, FollowupAction("utter_offer_human")]
        return [*cleared, *await self.answer(dispatcher, customer, order)]


class ValidateVerifyIdentityForm(FormValidationAction):
    def name(self) -> str:
        return "validate_verify_identity_form"

    async def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validated_email(value, dispatcher)


class ActionVerifyIdentity(SupportAction):
    """Link this channel to the order's customer if the email matches; then answer as asked."""

    def name(self) -> str:
        return "action_verify_identity"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        store = customer_store()
        number, email = tracker.get_slot("pending_order"), str(tracker.get_slot("email") or "")
        order = await run_sync(store.find_order, number) if number else None
        owner = await run_sync(store.get_customer, order.customer_id) if order else None
        done: list[EventType] = [SlotSet("pending_order", None), SlotSet("pending_action", None),
                                 SlotSet("email", None)]  # fmt: skip
        if owner is None or not owner.email or owner.email.lower() != email.strip().lower():
            dispatcher.utter_message(response="utter_identity_not_verified")
            return [*done, FollowupAction("utter_offer_human")]
        await run_sync(store.link_identity, owner.id, channel_of(tracker), tracker.sender_id)
        dispatcher.utter_message(response="utter_identity_verified", first_name=owner.first_name or "")
        then = tracker.get_slot("pending_action") or "action_order_status"
        return [*done, SlotSet("order_number", order.number), FollowupAction(then)]


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
