"""The return form: which items, why, and a summary to confirm before anything is returned.

Why a form that asks first: a return is an action with consequences (a label is mailed, a
refund promised), and an order often holds several items of which only one goes back. So
the form asks only what it must: an order that is not the customer's or cannot be returned
(not delivered, out of the window, already returned) gets no questions at all — the form
ends after the order number and ``action_check_return`` says why at once; a one-item order
skips the items question. ``required_slots`` decides this from the store on every turn.

Answers come from buttons (``/inform{"return_item": ...}``, ``/inform{"return_reason": ...}``:
language-neutral payloads, past the language detector) or typed text: an item's name ("the
hub", "both"), a reason in the customer's own words (redacted before it lands in a slot).
"stop", "cancel" and "a person" are never taken for an answer, so the form rejects and the
rules "stop during return_form", "cancel during return_form" and "person requested during a
return" take over. Nor is a question typed where the reason is asked ("how long does the
refund take?", "what's your return policy?", actions/digressions.py): it is answered, and
DigressionPolicy brings the customer back to the reason question.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import SupportAction, business, channel_of, customer_store, format_money
from actions.digressions import is_digression
from actions.orders import OrderNumberValidation
from bot import responses
from bot.customers import OrderRecord
from bot.db import run_sync
from bot.redact import redact
from bot.return_reasons import FAULTY, NOT_AS_EXPECTED, NOT_NEEDED, OTHER, reads_as_not_needed

DETAIL_SLOTS = ("return_items", "return_reason", "return_confirmed")
ALL_ITEMS = "all"
# A reason button's payload → the response that names it in the summary (names written out:
# tests/test_training_data.py finds the responses our actions utter by their quoted names).
REASON_LABELS = {
    FAULTY: "utter_return_reason_faulty",
    NOT_AS_EXPECTED: "utter_return_reason_not_as_expected",
    NOT_NEEDED: "utter_return_reason_not_needed",
    OTHER: "utter_return_reason_other",
}
# Their rules must get the message ("stop during return_form", "cancel during return_form",
# "person requested during a return"), so they are never taken for an answer.
LEAVING_INTENTS = frozenset({"stop", "cancel_order", "human_handoff"})
MAX_NOTE = 500
_GENERIC_WORDS = frozenset({"hearthlink", "smart", "the", "and", "for"})
_WORD = re.compile(r"[^\W_]+")


def _words(text: str) -> list[str]:
    """Lower-case words, a plural's ``s`` dropped ("plugs" → "plug")."""
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in _WORD.findall(text.lower())]


# Typed "all of them" in the languages the bot speaks (business.yml languages).
_ALL_WORDS = frozenset(_words("all everything both todo todos todas ambos ambas alle alles beide beides"))


def _contains(words: list[str], part: list[str]) -> bool:
    """``part`` appears in ``words`` as consecutive words."""
    return any(words[i : i + len(part)] == part for i in range(len(words) - len(part) + 1))


def match_items(text: str, products: list[str]) -> list[str]:
    """The products a typed answer names: "the hub" → Hub, "both" → every one, "plugs" → Smart Plug.

    Whole names first ("cam outdoor" is not also "cam"), then any distinctive word.
    """
    words = _words(text)
    if _ALL_WORDS.intersection(words):
        return list(products)
    keys = {p: _words(p.lower().replace("hearthlink", "")) for p in products}
    whole = [p for p in products if keys[p] and _contains(words, keys[p])]
    # "cam outdoor" names the Cam Outdoor, not also the Cam
    whole = [p for p in whole if not any(q != p and _contains(keys[q], keys[p]) for q in whole)]
    if whole:
        return whole
    return [
        p for p in products if any(w in words for w in _words(p) if len(w) >= 3 and w not in _GENERIC_WORDS)
    ]


def chosen_products(order: OrderRecord, slot_value: Any) -> list[str]:
    """The ``return_items`` slot as product names (every product of a one-item order)."""
    products = [item.product for item in order.items]
    chosen = [p for p in (slot_value or ()) if p in products]
    return chosen or products


def reason_parts(value: str | None) -> tuple[str | None, str | None]:
    """``return_reason`` as (code, the customer's own words): a button's code, or ``other`` + text."""
    if not value:
        return None, None
    if value in REASON_LABELS:
        return value, None
    return "other", value


def _latest_entity(tracker: Tracker, name: str) -> str | None:
    for entity in tracker.latest_message.get("entities") or ():
        if entity.get("entity") == name and entity.get("value"):
            return str(entity["value"])
    return None


def _latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _typed_answer(tracker: Tracker) -> str | None:
    """The customer's text as an answer, or None when it is a "stop", "a person" or a payload."""
    text = str(tracker.latest_message.get("text") or "").strip()
    if not text or text.startswith("/") or _latest_intent(tracker) in LEAVING_INTENTS:
        return None
    return text


def return_eligibility(order: OrderRecord, today: date, window_days: int) -> str:
    """``eligible``, or why not: ``not_delivered``, ``cancelled``, ``already_open``, ``window_passed``."""
    if order.returns:
        return "already_open"
    if order.status == "cancelled":
        return "cancelled"
    if order.status != "delivered" or order.delivered_on is None:
        return "not_delivered"
    if (today - order.delivered_on).days > window_days:
        return "window_passed"
    return "eligible"


async def returnable_order(tracker: Tracker) -> OrderRecord | None:
    """The order in the slot if it is the sender's and can be returned today, else None.

    Looks the sender up without creating them (this runs on every turn of the form).
    """
    number = tracker.get_slot("order_number")
    if not number:
        return None
    store = customer_store()
    customer = await run_sync(store.find_by_identity, channel_of(tracker), tracker.sender_id)
    order = await run_sync(store.find_order, str(number))
    if customer is None or order is None or order.customer_id != customer.id:
        return None
    if return_eligibility(order, date.today(), business().return_window_days) != "eligible":
        return None
    return order


class ValidateReturnForm(OrderNumberValidation):
    """The order number, then (for a returnable order only) items, reason and confirmation."""

    def name(self) -> str:
        return "validate_return_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        order = await returnable_order(tracker)
        if order is None:
            return ["order_number"]
        items = ["return_items"] if len(order.items) > 1 else []
        return ["order_number", *items, "return_reason", "return_confirmed"]

    async def extract_return_items(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "return_items":
            return {}
        button = _latest_entity(tracker, "return_item")
        if not button and is_digression(tracker.latest_message):
            return {}  # a question, not an item: answered, then the items are asked again
        answer = button or _typed_answer(tracker)
        return {"return_items": [answer]} if answer else {}

    async def extract_return_reason(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "return_reason":
            return {}
        button = _latest_entity(tracker, "return_reason")
        if not button and is_digression(tracker.latest_message):
            return {}  # not a reason: Rasa rejects the form, the question is answered, then asked again
        text = str(tracker.latest_message.get("text") or "")
        if not button and reads_as_not_needed(text):
            return {"return_reason": NOT_NEEDED}  # "I don't need it anymore" reads as stop (0.89)
        answer = button or _typed_answer(tracker)
        return {"return_reason": answer} if answer else {}

    async def validate_return_items(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") is None:  # left over from an earlier return
            return {"return_items": None}
        order = await returnable_order(tracker)
        if order is None:
            return {"return_items": None}
        products = [item.product for item in order.items]
        answers = slot_value if isinstance(slot_value, list) else [slot_value]
        chosen: list[str] = []
        for answer in (str(a) for a in answers if a):
            found = products if answer == ALL_ITEMS else [answer] if answer in products else []
            chosen += found or match_items(answer, products)
        if not chosen:
            shown = redact(" ".join(str(a) for a in answers if a))[:100]
            dispatcher.utter_message(response="utter_return_items_not_understood", value=shown)
            return {"return_items": None}
        return {"return_items": [p for p in products if p in chosen]}

    async def validate_return_reason(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") is None:
            return {"return_reason": None}
        value = str(slot_value or "").strip()
        if value in REASON_LABELS:
            return {"return_reason": value}
        note = redact(value)[:MAX_NOTE].strip()  # the customer's words: no secrets in a slot
        return {"return_reason": note or None}

    async def validate_return_confirmed(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") is None:
            return {"return_confirmed": None}
        return {"return_confirmed": slot_value if isinstance(slot_value, bool) else None}


def item_buttons(order: OrderRecord) -> list[dict[str, str]]:
    """One button per product (after the response's own "All of them")."""
    return [
        {
            "title": f"{item.quantity} × {item.product}" if item.quantity > 1 else item.product,
            "payload": "/inform" + json.dumps({"return_item": item.product}),
        }
        for item in order.items
    ]


class ActionAskReturnItems(SupportAction):
    """Ask which items, with the order's products as buttons."""

    def name(self) -> str:
        return "action_ask_return_items"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        order = await returnable_order(tracker)
        buttons = item_buttons(order) if order else []
        number = order.number if order else str(tracker.get_slot("order_number") or "")
        dispatcher.utter_message(response="utter_ask_return_items", order_number=number, buttons=buttons)
        return []


def reason_text(value: str | None, language: str | None) -> str:
    """The reason as the summary names it: the label of a button's code, else the customer's words."""
    code, note = reason_parts(value)
    if note:
        return note
    return responses.render(REASON_LABELS[code or "other"], language=language)


class ActionAskReturnConfirmed(SupportAction):
    """The summary (order, items, refund, reason), and "shall I start it?"."""

    def name(self) -> str:
        return "action_ask_return_confirmed"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        order = await returnable_order(tracker)
        if order is None:  # changed under us (e.g. returned meanwhile): let the check say why
            dispatcher.utter_message(response="utter_default")
            return []
        products = chosen_products(order, tracker.get_slot("return_items"))
        refund = refund_cents(order, products)
        dispatcher.utter_message(
            response="utter_ask_return_confirmed",
            order_number=order.number,
            items=order.summary_of(products),
            amount=format_money(refund, order.currency),
            reason=reason_text(tracker.get_slot("return_reason"), tracker.get_slot("language")),
        )
        return []


def refund_cents(order: OrderRecord, products: list[str]) -> int:
    """What the store refunds for these products (see CustomerStore.start_return)."""
    if set(products) == {item.product for item in order.items}:
        return order.total_cents
    return sum(item.unit_price_cents * item.quantity for item in order.lines_of(products))
