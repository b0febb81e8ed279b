"""The action-server side of the handoff: pausing, after hours, triggers, follow-up messages.

Real customer stores (SQLite and PostgreSQL); business.yml variants are written per test
and selected with ``SUPPORTBOT_BUSINESS_FILE``, the same switch a deployment uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.handoff import ActionFallback, ActionHandoff, ActionHandoffUnanswered, ActionSaveFollowup
from bot.customers import CustomerStore
from bot.handoff.store import POST_CARD, POST_THREAD, HandoffStore
from tests.support.bot import write_business_file
from tests.support.trackers import user
from tests.test_actions import responses, run

CLOSED = {"business_hours": {"timezone": "UTC", "days": ["mon"], "open": "00:00", "close": "00:01"}}


@pytest.fixture(autouse=True)
def use_store(store: CustomerStore, monkeypatch: pytest.MonkeyPatch) -> CustomerStore:
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", store.url)
    return store


def business(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **handoff: object) -> None:
    path = write_business_file(tmp_path / f"business-{len(handoff)}-{id(handoff)}.yml", **handoff)
    monkeypatch.setenv("SUPPORTBOT_BUSINESS_FILE", str(path))


def upset(text: str, anger: float) -> dict:
    event = user(text, "complaint")
    event["parse_data"]["sentiment"] = {"label": "angry", "score": anger, "anger": anger}
    return event


def test_handoff_pauses_the_bot_and_queues_the_card(use_store: CustomerStore) -> None:
    messages, events = run(ActionHandoff(), "maria", [user("a person please", "human_handoff")])
    assert responses(messages) == ["utter_handoff"] and messages[0]["wait_minutes"] >= 1
    assert messages[1]["custom"] == {"handoff": {"state": "waiting"}}  # for the web chat's banner
    assert [e["event"] for e in events] == ["slot", "pause"]
    handoff = HandoffStore(use_store).latest_for("maria")
    assert handoff.status == "waiting" and handoff.packet["customer"]["name"] == "Maria Lopez"
    assert handoff.relay_after == 1_700_000_000.0
    assert [i.kind for i in HandoffStore(use_store).outbox().take_due()] == [POST_CARD]


def test_outside_business_hours_nobody_is_paused_and_a_message_is_offered(
    use_store: CustomerStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    business(monkeypatch, tmp_path, **CLOSED)
    messages, events = run(ActionHandoff(), "james", [user("agent", "human_handoff")])
    assert messages == []
    assert events[-1] == {"event": "followup", "name": "action_handoff_unanswered", "timestamp": None}
    assert HandoffStore(use_store).latest_for("james").status == "after_hours"  # agents still see it
    messages, _ = run(ActionHandoffUnanswered(), "james", [user("agent", "human_handoff")])
    assert responses(messages) == ["utter_team_offline", "utter_offer_message"]
    assert messages[0]["hours"] == "Mon 00:00–00:01 (UTC time)"


def test_an_angry_customer_is_handed_off_with_that_reason(use_store: CustomerStore) -> None:
    _, events = run(ActionHandoff(), "maria", [upset("this is a JOKE!!!", 0.9)])
    assert events[0]["value"] == "the customer is upset (anger 0.90)"


def test_switched_off_triggers_keep_the_bot_going(
    use_store: CustomerStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    business(monkeypatch, tmp_path, triggers={"not_understood_twice": False, "customer_asks": False})
    misses = [user("blorf", "nlu_fallback", 0.1), user("zzq", "nlu_fallback", 0.1)]
    messages, events = run(ActionFallback(), "maria", misses)
    assert responses(messages) == ["utter_ask_rephrase"] and events == []
    messages, events = run(ActionHandoff(), "maria", [user("agent", "human_handoff")])
    assert events == [{"event": "followup", "name": "action_handoff_unanswered", "timestamp": None}]
    assert HandoffStore(use_store).latest_for("maria") is None


def test_followup_message_is_passed_to_the_team(use_store: CustomerStore) -> None:
    run(ActionHandoff(), "priya", [user("agent", "human_handoff")])
    messages, events = run(
        ActionSaveFollowup(),
        "priya",
        [user("call me", "inform")],
        followup_message="Please call me back about HL-103377",
    )
    assert responses(messages)[0].startswith("utter_followup_saved")
    assert events == [{"event": "slot", "name": "followup_message", "value": None, "timestamp": None}]
    handoffs = HandoffStore(use_store)
    assert handoffs.latest_for("priya").followup_message == "Please call me back about HL-103377"
    thread = [i for i in handoffs.outbox().take_due() if i.kind == POST_THREAD]
    assert thread == [] or thread[0].payload["kind"] == "followup"
