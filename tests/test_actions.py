"""Custom actions against real customer stores (SQLite and PostgreSQL).

Each test calls the action the way the action server does, with a tracker as Rasa
sends it, and checks both what the customer is told and what lands in the database.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa_sdk import Action
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ActionResetPassword, ValidatePasswordForm
from actions.handoff import ActionFallback, ActionHandoff, consecutive_fallbacks
from actions.orders import ActionAskOrderNumber, ActionOrderStatus, ValidateOrderStatusForm
from actions.profile import ActionDescribePlans, ActionGreet
from actions.returns import ActionCheckReturn, ActionRefundStatus
from actions.troubleshooting import ActionTroubleshootResult, ValidateTroubleshootForm
from bot.customers import CustomerStore
from tests.support.trackers import DOMAIN, bot, tracker, user


@pytest.fixture(autouse=True)
def use_store(store: CustomerStore, monkeypatch: pytest.MonkeyPatch) -> CustomerStore:
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", store.url)
    return store


def run(action: Action, sender: str, events: list[dict], **slots: Any) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    result = asyncio.run(action.run(dispatcher, tracker(sender, events, **slots), DOMAIN))
    return dispatcher.messages, result


def responses(messages: list[dict]) -> list[str]:
    """Names of the responses uttered (custom JSON messages, e.g. handoff state, left out)."""
    return [m["response"] for m in messages if m.get("response")]


def test_greets_known_customer_by_name_and_new_one_politely(use_store: CustomerStore) -> None:
    messages, _ = run(ActionGreet(), "maria", [user("hi", "greet")])
    assert messages[0]["response"] == "utter_greet_known" and messages[0]["first_name"] == "Maria"
    messages, _ = run(ActionGreet(), "someone-new", [user("hi", "greet")])
    assert responses(messages) == ["utter_greet"]
    assert use_store.find_by_identity("rest", "someone-new") is not None  # now a (new) customer


def test_asks_known_customer_which_order_with_buttons() -> None:
    messages, _ = run(ActionAskOrderNumber(), "maria", [user("where is my order", "order_status")])
    buttons = messages[0]["buttons"]
    assert buttons[0]["payload"] == '/inform{"order_number": "HL-104233"}'
    messages, _ = run(ActionAskOrderNumber(), "stranger", [user("order?", "order_status")])
    assert responses(messages) == ["utter_ask_order_number"]


def test_order_number_validation_normalises_and_rejects() -> None:
    form = ValidateOrderStatusForm()
    dispatcher = CollectingDispatcher()
    t = tracker("maria", [user("#104233", "inform")])
    assert asyncio.run(form.validate_order_number("#104233", dispatcher, t, DOMAIN)) == {
        "order_number": "HL-104233"
    }
    assert asyncio.run(form.validate_order_number("banana", dispatcher, t, DOMAIN)) == {"order_number": None}
    assert dispatcher.messages[-1]["response"] == "utter_invalid_order_number"


def test_order_status_is_personal() -> None:
    messages, events = run(
        ActionOrderStatus(), "maria", [user("where is HL-104233", "order_status")], order_number="HL-104233"
    )
    assert messages[0]["response"] == "utter_order_shipped"
    assert messages[0]["carrier"] == "UPS" and messages[0]["tracking_number"] == "1Z999AA10123456784"
    assert {"event": "slot", "name": "order_number", "value": None, "timestamp": None} in events


def test_someone_elses_order_is_not_disclosed() -> None:
    messages, events = run(
        ActionOrderStatus(), "james", [user("where is HL-104233", "order_status")], order_number="HL-104233"
    )
    assert responses(messages) == ["utter_order_not_on_account"]
    assert "1Z999" not in str(messages)
    assert events[-1] == {"event": "followup", "name": "utter_offer_human", "timestamp": None}


def test_unknown_order_number_gets_the_same_answer_as_someone_elses() -> None:
    """No oracle: "no such order" and "not yours" read the same (it asks to check the number)."""
    messages, _ = run(ActionOrderStatus(), "maria", [user("HL-999999", "inform")], order_number="HL-999999")
    theirs, _ = run(ActionOrderStatus(), "maria", [user("HL-118020", "inform")], order_number="HL-118020")
    assert responses(messages) == responses(theirs) == ["utter_order_not_on_account"]
    assert [m["order_number"] for m in messages + theirs] == ["HL-999999", "HL-118020"]


def test_return_within_window_is_started_once_confirmed(use_store: CustomerStore) -> None:
    """The form asked which items and why and the customer said yes: only then is it opened."""
    confirmed = {"order_number": "HL-100982", "return_items": ["Hearthlink Hub"],
                 "return_reason": "not_needed", "return_confirmed": True}  # fmt: skip
    messages, events = run(ActionCheckReturn(), "maria", [user("yes", "affirm")], **confirmed)
    assert messages[0]["response"] == "utter_return_started"
    assert messages[0]["email"] == "m***@example.com" and messages[0]["amount"] == "$99.00"
    assert messages[0]["items"] == "Hearthlink Hub"
    (opened,) = use_store.find_order("HL-100982").returns
    assert (
        opened.items == ("Hearthlink Hub",) and opened.reason == "not_needed" and opened.refund_cents == 9900
    )
    assert {"event": "slot", "name": "return_confirmed", "value": None, "timestamp": None} in events
    again, _ = run(ActionCheckReturn(), "maria", [user("yes", "affirm")], **confirmed)
    assert responses(again) == ["utter_return_already_open"]


def test_return_outside_window_and_not_delivered() -> None:
    messages, events = run(
        ActionCheckReturn(), "james", [user("return it", "start_return")], order_number="HL-118020"
    )
    assert messages[0]["response"] == "utter_return_window_passed"
    assert messages[0]["return_window_days"] == 30
    assert events[-1]["name"] == "utter_offer_human"
    messages, _ = run(
        ActionCheckReturn(), "james", [user("return it", "start_return")], order_number="HL-120455"
    )
    assert responses(messages) == ["utter_return_not_delivered"]  # processing: it can still be cancelled
    messages, _ = run(
        ActionCheckReturn(), "maria", [user("return it", "start_return")], order_number="HL-104233"
    )
    assert responses(messages) == [
        "utter_return_not_delivered_shipped"
    ]  # shipped: refuse it, or return later
    assert messages[0]["carrier"] == "UPS" and messages[0]["return_window_days"] == 30


def test_refund_status_for_known_and_unknown_customers() -> None:
    messages, _ = run(ActionRefundStatus(), "priya", [user("where is my refund", "refund_status")])
    assert messages[0]["response"] == "utter_refund_status" and messages[0]["amount"] == "$60.00"
    messages, _ = run(ActionRefundStatus(), "nobody", [user("where is my refund", "refund_status")])
    assert responses(messages) == ["utter_refund_unknown_customer"]


def test_password_reset_never_reveals_whether_an_account_exists() -> None:
    messages, _ = run(ActionResetPassword(), "maria", [user("x", "inform")], email="Maria.Lopez@example.com")
    assert responses(messages) == ["utter_password_reset_sent"]
    messages, _ = run(ActionResetPassword(), "maria", [user("x", "inform")], email="other@example.com")
    assert responses(messages) == ["utter_password_reset_generic"]
    form, dispatcher = ValidatePasswordForm(), CollectingDispatcher()
    t = tracker("maria", [user("maria at gmail", "inform")])
    assert asyncio.run(form.validate_email("maria at gmail", dispatcher, t, DOMAIN)) == {"email": None}
    assert dispatcher.messages[-1]["response"] == "utter_invalid_email"


def test_troubleshooting_stops_when_fixed_and_escalates_when_not(use_store: CustomerStore) -> None:
    form = ValidateTroubleshootForm()
    slots = ["ts_restart_fixed", "ts_cables_fixed"]
    fixed = tracker("james", [user("yes", "affirm")], ts_restart_fixed=True)
    assert asyncio.run(form.required_slots(slots, CollectingDispatcher(), fixed, DOMAIN)) == slots[:1]
    messages, _ = run(ActionTroubleshootResult(), "james", [user("yes", "affirm")], ts_restart_fixed=True)
    assert responses(messages) == ["utter_troubleshoot_fixed"]

    events = [
        user("internet down", "connectivity_issue"),
        bot("try a restart"),
        user("no", "deny"),
        user("no", "deny"),
    ]
    messages, result = run(
        ActionTroubleshootResult(), "james", events, ts_restart_fixed=False, ts_cables_fixed=False
    )
    assert responses(messages) == ["utter_troubleshoot_escalate", "utter_handoff"]
    reason = next(e["value"] for e in result if e.get("name") == "handoff_reason")
    assert "troubleshooting" in reason
    james = use_store.find_by_identity("rest", "james")
    assert use_store.recent_conversations(james.id)[0].handoff_reason == reason


def test_fallback_asks_to_rephrase_once_then_offers_a_person() -> None:
    first = [user("hi", "greet"), bot("hello"), user("blorf", "nlu_fallback", 0.1)]
    messages, events = run(ActionFallback(), "maria", first)
    assert responses(messages) == ["utter_ask_rephrase"] and events == []
    second = [*first, bot("rephrase?"), user("zzzq", "nlu_fallback", 0.1)]
    assert consecutive_fallbacks(second) == 2
    messages, events = run(ActionFallback(), "maria", second)
    assert messages == []
    assert events[-1] == {"event": "followup", "name": "utter_offer_human", "timestamp": None}


def test_handoff_records_reason_and_context(use_store: CustomerStore) -> None:
    events = [user("I was charged twice!", "billing_dispute")]
    messages, result = run(ActionHandoff(), "maria", events)
    assert responses(messages) == ["utter_handoff"]
    assert result[0]["value"] == "billing dispute (handled by people only)"
    maria = use_store.find_by_identity("rest", "maria")
    latest = use_store.recent_conversations(maria.id)[0]
    assert latest.outcome == "handed_off" and "charged twice" in latest.summary


def test_plans_mention_the_customers_current_plan() -> None:
    messages, _ = run(ActionDescribePlans(), "james", [user("plans?", "plans_pricing")])
    assert responses(messages) == ["utter_plans_pricing", "utter_current_plan"]
    assert messages[1]["plan"] == "Fiber 300"


def test_database_down_gives_a_clear_answer_and_offers_a_person(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:1/none")
    messages, events = run(
        ActionOrderStatus(), "maria", [user("HL-104233", "inform")], order_number="HL-104233"
    )
    assert responses(messages) == ["utter_store_unavailable"]
    assert events == [{"event": "followup", "name": "utter_offer_human", "timestamp": None}]
    messages, events = run(ActionHandoff(), "maria", [user("agent", "human_handoff")])
    assert responses(messages) == ["utter_handoff_store_down"]
