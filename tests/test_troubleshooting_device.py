"""Troubleshooting looks at the customer's records first: a device they do not have is said so."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.troubleshooting import ValidateTroubleshootForm
from bot.customers import CustomerStore
from tests.support.trackers import DOMAIN, tracker, user
from tests.test_actions import responses


@pytest.fixture(autouse=True)
def use_store(store: CustomerStore, monkeypatch: pytest.MonkeyPatch) -> CustomerStore:
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", store.url)
    return store


def start(sender: str, text: str, **entities: str) -> list[dict]:
    """The form's first run, on the message that started it (Rasa sends no requested_slot yet)."""
    dispatcher = CollectingDispatcher()
    t = tracker(sender, [user(text, "connectivity_issue", **entities)])
    asyncio.run(ValidateTroubleshootForm().run(dispatcher, t, DOMAIN))
    return dispatcher.messages


def test_a_device_the_account_does_not_hold_is_named_with_what_it_holds() -> None:
    # Maria's account holds a Hearthlink Hub and a Hearthlink Cam Outdoor (demo_customers.yml)
    messages = start("maria", "my thermostat keeps going offline", device_model="Hearthlink Thermostat")
    assert responses(messages) == ["utter_ts_device_not_on_record"]
    assert messages[0]["device"] == "Hearthlink Thermostat"
    assert messages[0]["devices"] == "Hearthlink Hub, Hearthlink Cam Outdoor"


def test_nothing_is_said_for_an_owned_device_no_device_or_no_records() -> None:
    assert start("maria", "the hub is offline", device_model="Hearthlink Hub") == []
    assert start("maria", "my internet is down") == []
    assert start("someone-new", "my thermostat is offline", device_model="Hearthlink Thermostat") == []


def test_only_the_start_of_the_form_is_checked() -> None:
    dispatcher = CollectingDispatcher()
    t = tracker("maria", [user("no the thermostat", "deny", device_model="Hearthlink Thermostat")],
                requested_slot="ts_restart_fixed")  # fmt: skip
    asyncio.run(ValidateTroubleshootForm().run(dispatcher, t, DOMAIN))
    assert "utter_ts_device_not_on_record" not in responses(dispatcher.messages)


def test_the_remark_reads_in_each_language_and_the_thermostat_gets_its_own_first_step() -> None:
    variants = DOMAIN["responses"]["utter_ts_device_not_on_record"]
    languages = {c["value"] for v in variants for c in v.get("condition") or ()}
    assert languages == {"es", "de"} and all(
        "{device}" in v["text"] and "{devices}" in v["text"] for v in variants
    )
    first = DOMAIN["responses"]["utter_ask_ts_restart_fixed"]
    (thermostat,) = [v for v in first if v.get("condition")]
    assert (
        thermostat["condition"][0]["value"] == "Hearthlink Thermostat" and "thermostat" in thermostat["text"]
    )
