"""The return form against real customer stores (SQLite and PostgreSQL): it asks before it acts.

Each test calls the validate action, the ask actions or ``action_check_return`` the way the
action server does, and checks what the customer is asked or told and what is in the store.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.orders import ActionCancelOrder
from actions.return_form import (
    ActionAskReturnConfirmed,
    ActionAskReturnItems,
    ValidateReturnForm,
    match_items,
)
from actions.returns import ActionCheckReturn
from bot.customers import CustomerStore
from bot.customers.models import Customer, Identity, Order, OrderItem
from tests.support.trackers import DOMAIN, tracker, user
from tests.test_actions import responses, run

FORM_SLOTS = DOMAIN["forms"]["return_form"]["required_slots"]
MULTI = "HL-100982"  # Maria's: Hearthlink Hub $99 + two Hearthlink Smart Plug $19, delivered 12 days ago


@pytest.fixture(autouse=True)
def use_store(store: CustomerStore, monkeypatch: pytest.MonkeyPatch) -> CustomerStore:
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", store.url)
    return store


def add_single_item_order(store: CustomerStore, number: str = "HL-150001") -> str:
    """A customer (sender "lena") with one delivered, one-item order inside the return window."""
    today = date.today()
    with store.session() as session:
        customer = Customer(name="Lena Berg", email="lena@example.com", devices=[], preferences={},
                            created_at=datetime(2026, 1, 1))  # fmt: skip
        customer.identities.append(Identity(channel="rest", external_id="lena"))
        customer.orders.append(
            Order(number=number, status="delivered", placed_on=today - timedelta(days=6),
                  shipped_on=today - timedelta(days=5), delivered_on=today - timedelta(days=3),
                  total_cents=4900, currency="USD",
                  items=[OrderItem(product="Hearthlink Smart Bulb", quantity=1, unit_price_cents=4900)])
        )  # fmt: skip
        session.add(customer)
    return number


def required(sender: str, **slots: Any) -> list[str]:
    t = tracker(sender, [user("x", "inform")], **slots)
    return asyncio.run(ValidateReturnForm().required_slots(FORM_SLOTS, CollectingDispatcher(), t, DOMAIN))


def form_run(sender: str, text: str, intent: str, **slots: Any) -> tuple[list[dict], list[dict]]:
    """One turn of the form as Rasa sends it: the customer's message, the slots so far."""
    dispatcher = CollectingDispatcher()
    t = tracker(sender, [user(text, intent)], **slots)
    t.latest_message["text"] = text
    return dispatcher.messages, asyncio.run(ValidateReturnForm().run(dispatcher, t, DOMAIN))


def button(entity: str, value: str) -> dict:
    """A button's message: the payload's intent and entity (Rasa's regex message handler)."""
    message = user(f'/inform{{"{entity}": "{value}"}}', "inform")
    message["parse_data"]["entities"] = [{"entity": entity, "value": value}]
    return message


def slot_values(events: list[dict]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_only_a_returnable_order_gets_questions_and_one_item_skips_the_items_one(
    use_store: CustomerStore,
) -> None:
    assert required("maria", order_number=MULTI) == FORM_SLOTS
    single = add_single_item_order(use_store)
    assert required("lena", order_number=single) == ["order_number", "return_reason", "return_confirmed"]
    assert required("james", order_number="HL-118020") == ["order_number"]  # out of the window
    assert required("maria", order_number="HL-104233") == ["order_number"]  # shipped, not delivered
    assert required("james", order_number=MULTI) == ["order_number"]  # someone else's: no questions
    assert required("stranger", order_number=MULTI) == ["order_number"]
    assert required("maria") == ["order_number"]


def test_the_items_question_offers_every_product_and_takes_a_button_or_a_name() -> None:
    dispatcher = CollectingDispatcher()
    t = tracker("maria", [user("return HL-100982", "start_return")], order_number=MULTI)
    asyncio.run(ActionAskReturnItems().run(dispatcher, t, DOMAIN))
    (asked,) = dispatcher.messages
    assert asked["response"] == "utter_ask_return_items" and asked["order_number"] == MULTI
    assert [b["payload"] for b in asked["buttons"]] == [
        '/inform{"return_item": "Hearthlink Hub"}',
        '/inform{"return_item": "Hearthlink Smart Plug"}',
    ]
    assert asked["buttons"][1]["title"] == "2 × Hearthlink Smart Plug"

    events = button("return_item", "Hearthlink Hub")
    dispatcher = CollectingDispatcher()
    t = tracker("maria", [events], order_number=MULTI, requested_slot="return_items")
    result = slot_values(asyncio.run(ValidateReturnForm().run(dispatcher, t, DOMAIN)))
    # every slot of the form is needed here, so Rasa's FormAction asks the next one (the reason)
    assert result == {"return_items": ["Hearthlink Hub"]}

    _, result = form_run("maria", "all of them", "inform", order_number=MULTI, requested_slot="return_items")
    assert slot_values(result)["return_items"] == ["Hearthlink Hub", "Hearthlink Smart Plug"]
    _, result = form_run(
        "maria", "just the plugs", "inform", order_number=MULTI, requested_slot="return_items"
    )
    assert slot_values(result)["return_items"] == ["Hearthlink Smart Plug"]


def test_an_answer_naming_no_item_is_asked_again_and_stop_is_left_to_its_rule() -> None:
    messages, result = form_run(
        "maria", "the toaster", "inform", order_number=MULTI, requested_slot="return_items"
    )
    assert responses(messages) == ["utter_return_items_not_understood"]
    assert slot_values(result) == {"return_items": None}  # asked again
    # "stop": nothing extracted, so Rasa rejects the form and "stop during return_form" runs
    messages, result = form_run(
        "maria", "forget it", "stop", order_number=MULTI, requested_slot="return_items"
    )
    assert messages == [] and "return_items" not in slot_values(result)
    messages, result = form_run("maria", "a person please", "human_handoff", order_number=MULTI,
                                requested_slot="return_reason", return_items=["Hearthlink Hub"])  # fmt: skip
    assert "return_reason" not in slot_values(result)


def test_match_items_reads_names_plurals_and_all() -> None:
    products = ["Hearthlink Cam", "Hearthlink Cam Outdoor", "Hearthlink Smart Plug"]
    assert match_items("the cam outdoor", products) == ["Hearthlink Cam Outdoor"]
    assert match_items("both plugs and the cam", products) == products  # "both": all of them
    assert match_items("beide", products) == products
    assert match_items("plugs", products) == ["Hearthlink Smart Plug"]
    assert match_items("the smart one", products) == []


def test_the_reason_is_a_button_code_or_the_customers_words_redacted() -> None:
    slots = {"order_number": MULTI, "return_items": ["Hearthlink Hub"], "requested_slot": "return_reason"}
    t = tracker("maria", [button("return_reason", "faulty")], **slots)
    result = slot_values(asyncio.run(ValidateReturnForm().run(CollectingDispatcher(), t, DOMAIN)))
    assert result == {"return_reason": "faulty"}
    _, result = form_run("maria", "it clashes with my decor, card 4111 1111 1111 1111", "complaint", **slots)
    reason = slot_values(result)["return_reason"]
    assert reason.startswith("it clashes with my decor") and "4111 1111" not in reason and "1111]" in reason


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("how long does the refund take?", "refund_status"),
        ("what's your return policy?", "return_policy"),
        ("when will I get my money back", "refund_status"),  # no "?", still a question
        ("¿cuánto tarda el reembolso?", "refund_status"),
        ("do you ship to canada?", "international_shipping"),
    ],
)
def test_a_question_at_the_reason_step_is_left_for_its_answer_not_taken_as_the_reason(
    text: str, intent: str
) -> None:
    """Nothing extracted: Rasa rejects the form, the question's rule and DigressionPolicy take over."""
    slots = {"order_number": MULTI, "return_items": ["Hearthlink Hub"], "requested_slot": "return_reason"}
    messages, result = form_run("maria", text, intent, **slots)
    assert messages == [] and "return_reason" not in slot_values(result)


def test_i_dont_need_it_anymore_is_the_not_needed_reason_though_the_nlu_reads_stop() -> None:
    slots = {"order_number": MULTI, "return_items": ["Hearthlink Hub"], "requested_slot": "return_reason"}
    messages, result = form_run("maria", "I don't need it anymore", "stop", **slots)
    assert slot_values(result)["return_reason"] == "not_needed" and messages == []
    # a real stop is still left to "stop during return_form"
    _, result = form_run("maria", "stop, I don't need it anymore", "stop", **slots)
    assert "return_reason" not in slot_values(result)


def test_a_question_at_the_items_step_is_left_for_its_answer_not_taken_as_an_item() -> None:
    slots = {"order_number": MULTI, "requested_slot": "return_items"}
    messages, result = form_run("maria", "how long does the refund take?", "refund_status", **slots)
    assert messages == [] and "return_items" not in slot_values(result)
    # an item's name that is no question is still the answer
    _, result = form_run("maria", "the hub", "inform", **slots)
    assert slot_values(result)["return_items"] == ["Hearthlink Hub"]


def test_a_reason_that_sounds_like_a_question_intent_is_still_the_reason() -> None:
    """The intent alone does not make a digression: these are confidently question intents."""
    slots = {"order_number": MULTI, "return_items": ["Hearthlink Hub"], "requested_slot": "return_reason"}
    for text, intent in [
        ("not compatible with my alexa", "device_compatibility"),
        ("delivery took forever", "delivery_time"),
        ("it's for privacy reasons, the camera records everything", "privacy_data"),
    ]:
        _, result = form_run("maria", text, intent, **slots)
        assert slot_values(result)["return_reason"] == text
    # a question the bot has no digression answer for (not in DigressionPolicy's list) is a reason
    _, result = form_run("maria", "why is it so loud?", "complaint", **slots)
    assert slot_values(result)["return_reason"] == "why is it so loud?"
    # below the fallback threshold the NLU is not sure it is that question
    t = tracker("maria", [user("what about the policy?", "return_policy", confidence=0.2)], **slots)
    result = slot_values(asyncio.run(ValidateReturnForm().run(CollectingDispatcher(), t, DOMAIN)))
    assert result["return_reason"] == "what about the policy?"
    # a reason button always counts, whatever the classifier made of the payload
    t = tracker("maria", [button("return_reason", "not_needed")], **slots)
    t.latest_message["intent"] = {"name": "return_policy", "confidence": 0.99}
    result = slot_values(asyncio.run(ValidateReturnForm().run(CollectingDispatcher(), t, DOMAIN)))
    assert result == {"return_reason": "not_needed"}


def test_a_value_left_from_an_earlier_return_is_not_an_answer() -> None:
    """At the form's start (no requested slot yet) old items, reason and yes are cleared."""
    form, dispatcher = ValidateReturnForm(), CollectingDispatcher()
    t = tracker("maria", [user("return HL-100982", "start_return")], order_number=MULTI)
    assert asyncio.run(form.validate_return_reason("faulty", dispatcher, t, DOMAIN)) == {
        "return_reason": None
    }
    assert asyncio.run(form.validate_return_items(["Hearthlink Hub"], dispatcher, t, DOMAIN)) == {
        "return_items": None
    }
    assert asyncio.run(form.validate_return_confirmed(True, dispatcher, t, DOMAIN)) == {
        "return_confirmed": None
    }


def test_the_summary_names_order_items_refund_and_reason_in_the_customers_language() -> None:
    slots = {"order_number": MULTI, "return_items": ["Hearthlink Smart Plug"], "return_reason": "not_needed"}
    dispatcher = CollectingDispatcher()
    asyncio.run(
        ActionAskReturnConfirmed().run(dispatcher, tracker("maria", [user("x", "inform")], **slots), DOMAIN)
    )
    (summary,) = dispatcher.messages
    assert summary["response"] == "utter_ask_return_confirmed"
    assert (summary["order_number"], summary["items"], summary["amount"], summary["reason"]) == (
        MULTI, "2 × Hearthlink Smart Plug", "$38.00", "no longer needed",
    )  # fmt: skip
    dispatcher = CollectingDispatcher()
    t = tracker("maria", [user("x", "inform")], **slots, language="es")
    asyncio.run(ActionAskReturnConfirmed().run(dispatcher, t, DOMAIN))
    assert dispatcher.messages[0]["reason"] == "ya no lo necesitas"


def test_no_at_the_summary_returns_nothing(use_store: CustomerStore) -> None:
    slots = {"order_number": MULTI, "return_items": ["Hearthlink Hub"], "return_reason": "faulty",
             "return_confirmed": False}  # fmt: skip
    messages, events = run(ActionCheckReturn(), "maria", [user("no", "deny")], **slots)
    assert responses(messages) == ["utter_return_not_started"]
    assert use_store.find_order(MULTI).returns == ()
    assert {"return_items": None, "return_reason": None, "return_confirmed": None}.items() <= slot_values(
        events
    ).items()


def test_a_single_item_return_keeps_the_customers_own_reason(use_store: CustomerStore) -> None:
    single = add_single_item_order(use_store)
    slots = {"order_number": single, "return_reason": "flickers, password hunter2 if you need it",
             "return_confirmed": True}  # fmt: skip
    messages, _ = run(ActionCheckReturn(), "lena", [user("yes", "affirm")], **slots)
    assert messages[0]["response"] == "utter_return_started" and messages[0]["amount"] == "$49.00"
    (opened,) = use_store.find_order(single).returns
    assert opened.items == ("Hearthlink Smart Bulb",) and opened.reason == "other"
    assert opened.reason_note.startswith("flickers") and "hunter2" not in opened.reason_note


def test_an_eligible_order_not_yet_asked_about_goes_to_the_form(use_store: CustomerStore) -> None:
    """E.g. right after a new chat proved the order is theirs (pending action_check_return)."""
    messages, events = run(ActionCheckReturn(), "maria", [user("482913", "inform")], order_number=MULTI)
    assert messages == [] and use_store.find_order(MULTI).returns == ()
    assert events[-1] == {"event": "followup", "name": "return_form", "timestamp": None}
    assert slot_values(events)["order_number"] == MULTI


def test_cancel_advice_follows_the_orders_real_state() -> None:
    messages, _ = run(ActionCancelOrder(), "maria", [user("can I cancel my order", "cancel_order")])
    assert responses(messages) == ["utter_cancel_order_shipped"]  # her one order on its way, HL-104233
    assert messages[0]["order_number"] == "HL-104233" and messages[0]["carrier"] == "UPS"
    messages, _ = run(ActionCancelOrder(), "james", [user("cancel HL-120455", "cancel_order")],
                      order_number="HL-120455")  # fmt: skip
    assert responses(messages) == ["utter_cancel_order_processing"]
    messages, _ = run(ActionCancelOrder(), "maria", [user("cancel HL-100982", "cancel_order")],
                      order_number=MULTI)  # fmt: skip
    assert responses(messages) == ["utter_cancel_order_delivered"] and messages[0]["return_window_days"] == 30
    messages, _ = run(ActionCancelOrder(), "james", [user("cancel HL-100982", "cancel_order")],
                      order_number=MULTI)  # fmt: skip
    assert responses(messages) == ["utter_cancel_order"] and "DHL" not in str(messages)  # not his
