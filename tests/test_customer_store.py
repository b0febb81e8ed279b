"""The customer store on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from datetime import date

import pytest

from bot.customers import CustomerStore, IdentityRecord, normalise_order_number
from bot.customers.demo import load_demo_data


def test_demo_data_loads_once(store: CustomerStore) -> None:
    assert store.customer_count() == 3
    assert load_demo_data(store) == 0  # idempotent: safe to run on every start
    assert store.customer_count() == 3


def test_one_customer_across_channels(store: CustomerStore) -> None:
    on_web = store.find_by_identity("rest", "maria")
    on_x = store.find_by_identity("twitter", "1400000000000000001")
    assert on_web is not None and on_x is not None
    assert on_web.id == on_x.id
    assert on_web.name == "Maria Lopez" and on_web.plan == "Fiber 1000"
    assert {i.handle for i in on_web.identities} >= {"@maria_lopez"}


def test_unknown_sender_becomes_a_new_customer(store: CustomerStore) -> None:
    assert store.find_by_identity("rest", "visitor-1") is None
    created = store.get_or_create_by_identity("rest", "visitor-1")
    assert created.name is None and not created.is_known
    again = store.get_or_create_by_identity("rest", "visitor-1")
    assert again.id == created.id
    assert store.customer_count() == 4


def test_orders_newest_first_with_items_and_dates(store: CustomerStore) -> None:
    maria = store.find_by_identity("rest", "maria")
    orders = store.orders_for(maria.id)
    assert [o.number for o in orders] == ["HL-104233", "HL-100982"]
    hub = orders[1]
    assert hub.status == "delivered" and hub.delivered_on is not None
    assert hub.item_summary == "Hearthlink Hub and 2 × Hearthlink Smart Plug"
    assert hub.total_cents == 99_00 + 2 * 19_00


def test_find_order_accepts_customer_spellings(store: CustomerStore) -> None:
    for spelling in ("HL-104233", "hl104233", "#104233", "104233", " hl-104233 "):
        order = store.find_order(spelling)
        assert order is not None and order.number == "HL-104233", spelling
    assert store.find_order("HL-999999") is None
    assert store.find_order("not a number") is None
    assert normalise_order_number("12345") is None


def test_start_return_is_recorded(store: CustomerStore) -> None:
    opened = store.start_return("HL-100982", date.today())
    assert opened.status == "label_sent" and opened.refund_cents == 137_00
    order = store.find_order("HL-100982")
    assert [r.id for r in order.returns] == [opened.id]
    assert opened.items == ("Hearthlink Hub", "Hearthlink Smart Plug")  # no choice given: all of it


def test_a_return_of_some_items_refunds_those_and_keeps_the_reason_redacted(store: CustomerStore) -> None:
    opened = store.start_return(
        "HL-100982",
        date.today(),
        ["Hearthlink Smart Plug"],
        "other",
        "too noisy, my card 4111 1111 1111 1111",
    )
    assert opened.refund_cents == 2 * 19_00 and opened.items == ("Hearthlink Smart Plug",)
    (stored,) = store.find_order("HL-100982").returns
    assert stored.reason == "other" and stored.reason_note.startswith("too noisy")
    assert "4111 1111" not in stored.reason_note
    with pytest.raises(ValueError, match="no items"):
        store.start_return("HL-100982", date.today(), ["Hearthlink Toaster"])


def test_conversations_newest_first(store: CustomerStore) -> None:
    maria = store.find_by_identity("rest", "maria")
    store.record_conversation(
        maria.id, channel="rest", sender_id="maria", summary="asked for a person",
        outcome="handed_off", handoff_reason="the customer asked for a person",
    )  # fmt: skip
    recent = store.recent_conversations(maria.id)
    assert recent[0].outcome == "handed_off"
    assert len(recent) == 3


def test_add_customer_with_identities(store_url: str) -> None:
    store = CustomerStore(store_url)  # an empty database: no demo customers
    assert store.customer_count() == 0
    added = store.add_customer(
        name="Ada Lovelace", email="ada@example.com",
        identities=[IdentityRecord("rest", "ada"), IdentityRecord("twitter", "42", "@ada")],
    )  # fmt: skip
    assert store.find_by_identity("twitter", "42").id == added.id
