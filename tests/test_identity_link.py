"""A customer writing from a new channel proves an order is theirs and the channel is linked."""

from __future__ import annotations

import pytest

from actions.orders import ActionOrderStatus, ActionVerifyIdentity
from bot.customers import CustomerStore
from tests.support.trackers import user
from tests.test_actions import responses, run


@pytest.fixture(autouse=True)
def use_store(store: CustomerStore, monkeypatch: pytest.MonkeyPatch) -> CustomerStore:
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", store.url)
    return store


def test_a_new_sender_is_asked_to_prove_the_order_before_anything_is_shown() -> None:
    messages, events = run(
        ActionOrderStatus(), "x-new-1", [user("HL-104233", "inform")], order_number="HL-104233"
    )
    assert messages == []  # nothing about the order yet
    assert {"event": "followup", "name": "verify_identity_form", "timestamp": None} in events
    assert {"event": "slot", "name": "pending_order", "value": "HL-104233", "timestamp": None} in events


def test_the_right_email_links_the_channel_to_the_customer(use_store: CustomerStore) -> None:
    slots = {
        "pending_order": "HL-104233",
        "pending_action": "action_order_status",
        "email": "Maria.Lopez@example.com",
    }
    messages, events = run(
        ActionVerifyIdentity(), "x-new-2", [user("maria.lopez@example.com", "inform")], **slots
    )
    assert responses(messages) == ["utter_identity_verified"] and messages[0]["first_name"] == "Maria"
    assert events[-1] == {"event": "followup", "name": "action_order_status", "timestamp": None}
    assert use_store.find_by_identity("rest", "x-new-2").name == "Maria Lopez"
    messages, _ = run(ActionOrderStatus(), "x-new-2", [user("HL-104233", "inform")], order_number="HL-104233")
    assert responses(messages) == ["utter_order_shipped"]


def test_a_wrong_email_shows_nothing_and_links_nothing(use_store: CustomerStore) -> None:
    slots = {
        "pending_order": "HL-104233",
        "pending_action": "action_order_status",
        "email": "someone@else.com",
    }
    messages, events = run(ActionVerifyIdentity(), "x-new-3", [user("someone@else.com", "inform")], **slots)
    assert responses(messages) == ["utter_identity_not_verified"]
    assert events[-1] == {"event": "followup", "name": "utter_offer_human", "timestamp": None}
    found = use_store.find_by_identity("rest", "x-new-3")
    assert found is None or found.name is None


def test_a_known_customer_asking_about_someone_elses_order_is_not_offered_a_link() -> None:
    messages, events = run(
        ActionOrderStatus(), "james", [user("HL-104233", "inform")], order_number="HL-104233"
    )
    assert responses(messages) == ["utter_order_not_yours"]
    assert not any(e.get("name") == "verify_identity_form" for e in events)
