"""Returns and refunds: eligibility from the delivery date and the return policy.

``action_check_return`` runs when the return form is done (actions/return_form.py): it says
why an order cannot be returned, or opens the return the customer confirmed (the items and
reason they chose), or says nothing was returned when they declined the summary.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    SupportAction,
    business,
    customer_store,
    format_day,
    format_money,
    identify,
    mask_email,
)
from actions.orders import OwnedOrderAction, order_details
from actions.return_form import DETAIL_SLOTS, chosen_products, reason_parts, return_eligibility
from bot.customers import CustomerRecord, OrderRecord, ReturnRecord
from bot.db import run_sync

RETURN_STATUS_TEXT = {
    "label_sent": "waiting for your parcel to reach us (return opened {created_on})",
    "received": "received in our warehouse — your refund is being processed",
    "refunded": "complete: refunded on {refunded_on}",
}


class ActionReturnPolicy(SupportAction):
    def name(self) -> str:
        return "action_return_policy"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        settings = business()
        dispatcher.utter_message(
            response="utter_return_policy",
            return_window_days=settings.return_window_days,
            refund_days=settings.refund_days,
        )
        return []


class ActionCheckReturn(OwnedOrderAction):
    def name(self) -> str:
        return "action_check_return"

    async def answer(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer: CustomerRecord,
        order: OrderRecord,
    ) -> list[EventType]:
        settings = business()
        verdict = return_eligibility(order, date.today(), settings.return_window_days)
        done: list[EventType] = [SlotSet(slot, None) for slot in DETAIL_SLOTS]
        if verdict == "already_open":
            dispatcher.utter_message(
                response="utter_return_already_open",
                order_number=order.number,
                status=order.returns[-1].status.replace("_", " "),
            )
        elif verdict == "cancelled":
            dispatcher.utter_message(
                response="utter_order_cancelled", order_number=order.number, items=order.item_summary
            )
        elif verdict == "not_delivered" and order.status == "shipped":
            dispatcher.utter_message(
                response="utter_return_not_delivered_shipped",
                **order_details(order),
                return_window_days=settings.return_window_days,
            )
        elif verdict == "not_delivered":
            dispatcher.utter_message(response="utter_return_not_delivered", order_number=order.number)
        elif verdict == "window_passed":
            dispatcher.utter_message(
                response="utter_return_window_passed",
                order_number=order.number,
                delivered_on=format_day(order.delivered_on),
                return_window_days=settings.return_window_days,
            )
            return [*done, FollowupAction("utter_offer_human")]
        elif tracker.get_slot("return_confirmed") is False:
            dispatcher.utter_message(response="utter_return_not_started")
        elif tracker.get_slot("return_confirmed") is not True or not tracker.get_slot("return_reason"):
            # Eligible but not asked yet (e.g. right after a new chat proved the order is
            # theirs): the form asks which items and why, and confirms, before anything happens.
            return [*done, SlotSet("order_number", order.number), FollowupAction("return_form")]
        else:
            products = chosen_products(order, tracker.get_slot("return_items"))
            reason, note = reason_parts(tracker.get_slot("return_reason"))
            opened = await run_sync(
                customer_store().start_return, order.number, date.today(), products, reason, note
            )
            dispatcher.utter_message(
                response="utter_return_started",
                return_id=f"R-{opened.id:05d}",
                order_number=order.number,
                items=order.summary_of(products),
                email=mask_email(customer.email),
                amount=format_money(opened.refund_cents, order.currency),
                refund_days=settings.refund_days,
            )
        return done


def describe_return(ret: ReturnRecord, currency: str) -> dict[str, str]:
    status_text = RETURN_STATUS_TEXT.get(ret.status, ret.status).format(
        created_on=format_day(ret.created_on), refunded_on=format_day(ret.refunded_on)
    )
    return {
        "order_number": ret.order_number,
        "status_text": status_text,
        "amount": format_money(ret.refund_cents, currency),
    }


class ActionRefundStatus(SupportAction):
    def name(self) -> str:
        return "action_refund_status"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        customer = await identify(tracker)
        if not customer.is_known:
            dispatcher.utter_message(
                response="utter_refund_unknown_customer", refund_days=business().refund_days
            )
            return [FollowupAction("utter_offer_human")]
        orders = await run_sync(customer_store().orders_for, customer.id)
        with_returns = [(o, r) for o in orders for r in o.returns]
        if not with_returns:
            dispatcher.utter_message(response="utter_refund_none")
            return []
        order, latest = max(with_returns, key=lambda pair: pair[1].created_on)
        dispatcher.utter_message(response="utter_refund_status", **describe_return(latest, order.currency))
        return []
