"""Handoff state, outbox ordering and retries, on real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from bot.business import BusinessHours, load_business_settings
from bot.customers import CustomerStore
from bot.handoff.models import Handoff
from bot.handoff.store import (
    PAUSE_BOT,
    POST_CARD,
    POST_THREAD,
    RESUME_BOT,
    SAY_TO_CUSTOMER,
    HandoffStore,
)
from bot.outbox import OutboxRecord, OutboxWorker, RetryLater, utcnow
from tests.support import ROOT


@pytest.fixture
def handoffs(store: CustomerStore) -> HandoffStore:
    return HandoffStore(store)


def open_one(handoffs: HandoffStore, conversation: str = "c1", relay_after: float = 100.0) -> int:
    record, created = handoffs.open_handoff(
        conversation_id=conversation, channel="socketio", customer_id=None, reason="asked",
        packet={"transcript": []}, relay_after=relay_after,
    )  # fmt: skip
    assert created
    return record.id


def kinds(handoffs: HandoffStore, queue: str | None = None) -> list[str]:
    """Kinds of the undelivered items (of one queue), delivering heads as we go."""
    seen = []
    outbox = handoffs.outbox()
    while items := outbox.take_due():
        for item in items:
            if queue is None or item.queue == queue:
                seen.append(item.kind)
            outbox.mark_delivered(item.id)
    return seen


def due(handoffs: HandoffStore) -> list[OutboxRecord]:
    """The due queue heads, without keeping them leased (a peek, for assertions)."""
    outbox = handoffs.outbox()
    items = outbox.take_due()
    for item in items:
        outbox.mark_failed(item.id, "peeked", retry_in=0)
    return items


def test_one_active_handoff_per_conversation_and_its_card_is_queued(handoffs: HandoffStore) -> None:
    first = open_one(handoffs)
    again, created = handoffs.open_handoff(
        conversation_id="c1", channel="socketio", customer_id=None, reason="again", packet={}, relay_after=1.0
    )
    assert not created and again.id == first
    assert [(i.kind, i.payload) for i in due(handoffs)] == [(POST_CARD, {"handoff_id": first})]


def test_customer_messages_after_the_handoff_are_queued_once(handoffs: HandoffStore) -> None:
    open_one(handoffs, relay_after=100.0)
    assert not handoffs.relay_customer_message("c1", "already on the card", 99.0)
    assert handoffs.relay_customer_message("c1", "new", 101.0)
    assert not handoffs.relay_customer_message("c1", "new", 101.0)  # the same event again
    assert not handoffs.relay_customer_message("other", "no handoff", 101.0)
    assert sorted(kinds(handoffs)) == sorted([POST_CARD, POST_THREAD, SAY_TO_CUSTOMER])  # + "heard you"


def said_to_customer(handoffs: HandoffStore, conversation: str = "c1") -> list[str]:
    texts = []
    outbox = handoffs.outbox()
    while items := outbox.take_due():
        for item in items:
            if item.queue == f"customer:{conversation}" and item.kind == SAY_TO_CUSTOMER:
                texts.append(item.payload["text"])
            outbox.mark_delivered(item.id)
    return texts


def test_a_waiting_customer_is_told_once_that_they_were_heard_and_once_more_when_it_runs_late(
    handoffs: HandoffStore,
) -> None:
    open_one(handoffs, relay_after=100.0)
    for n, text in enumerate(["hello?", "anyone there?", "HELLO??"]):
        assert handoffs.relay_customer_message("c1", text, 101.0 + n)
    (heard,) = said_to_customer(handoffs)
    wait = load_business_settings().handoff.expected_wait_minutes
    assert "your message is with our support team" in heard and f"within about {round(wait)} min" in heard
    with handoffs.db.session() as session:  # the expected wait has passed
        session.execute(Handoff.__table__.update().values(created_at=utcnow() - timedelta(minutes=wait + 1)))
    assert handoffs.relay_customer_message("c1", "still nobody?", 110.0)
    assert handoffs.relay_customer_message("c1", "???", 111.0)
    (longer,) = said_to_customer(handoffs)
    assert "taking longer than usual" in longer
    handoffs.claim(handoffs.latest_for("c1").id, "UALEX", "Alex")  # a person is on it: no more of ours
    assert handoffs.relay_customer_message("c1", "hi Alex", 112.0)
    assert said_to_customer(handoffs) == ["Alex from our support team has joined the conversation."]


def test_claim_resolve_and_replies_queue_the_right_deliveries(handoffs: HandoffStore) -> None:
    handoff = open_one(handoffs)
    claimed = handoffs.claim(handoff, "UALEX", "Alex")
    assert claimed.status == "claimed" and claimed.claimed_by_name == "Alex"
    assert handoffs.claim(handoff, "UALEX", "Alex").status == "claimed"  # double click: no new items
    assert handoffs.relay_agent_message(
        handoff, message_ts="1.1", agent_id="UALEX", agent_name="Alex", text="hi"
    )
    assert not handoffs.relay_agent_message(
        handoff, message_ts="1.1", agent_id="UALEX", agent_name="Alex", text="hi"
    )  # Slack retry of the same message
    desk = [i.kind for i in due(handoffs) if i.queue.startswith("desk")]
    assert desk == [POST_CARD]
    resolved = handoffs.resolve(handoff, "Alex")
    assert resolved.status == "resolved" and handoffs.resolve(handoff, "Alex") is None
    assert handoffs.claim(handoff, "USAM", "Sam") is None
    assert [i.queue for i in due(handoffs)] == [f"desk:{handoff}", "customer:c1"]
    assert kinds(handoffs, "customer:c1") == [SAY_TO_CUSTOMER, SAY_TO_CUSTOMER, RESUME_BOT]


def test_unclaimed_handoffs_time_out_and_a_late_claim_pauses_the_bot_again(handoffs: HandoffStore) -> None:
    handoff = open_one(handoffs)
    assert handoffs.time_out_unclaimed(timedelta(minutes=5)) == []
    expired = handoffs.time_out_unclaimed(timedelta(minutes=5), now=utcnow() + timedelta(minutes=6))
    assert [h.id for h in expired] == [handoff] and expired[0].status == "timed_out"
    resume = [i for i in due(handoffs) if i.kind == RESUME_BOT]
    assert resume and resume[0].payload["intent"] == "EXTERNAL_handoff_unanswered"
    assert handoffs.claim(handoff, "UALEX", "Alex").status == "claimed"
    assert PAUSE_BOT in kinds(handoffs)


def test_demo_handoffs_never_time_out_so_nothing_about_them_reaches_a_desk(handoffs: HandoffStore) -> None:
    real = open_one(handoffs)
    open_one(handoffs, conversation="demo-web-0042")  # python -m bot demo-month: "waiting right now"
    expired = handoffs.time_out_unclaimed(timedelta(minutes=5), now=utcnow() + timedelta(minutes=6))
    assert [h.id for h in expired] == [real]
    assert not [i for i in due(handoffs) if "demo-" in i.queue]


def test_followup_message_goes_to_the_thread(handoffs: HandoffStore) -> None:
    handoff = open_one(handoffs)
    handoffs.time_out_unclaimed(timedelta(0), now=utcnow() + timedelta(seconds=1))
    assert handoffs.record_followup("c1", "call me back").followup_message == "call me back"
    thread = [i for i in due(handoffs) if i.kind == POST_THREAD]
    assert thread == [] or thread[0].payload["handoff_id"] == handoff
    assert kinds(handoffs).count(POST_THREAD) == 1


def test_a_failing_item_holds_back_its_queue_only(handoffs: HandoffStore) -> None:
    first, second = open_one(handoffs, "a"), open_one(handoffs, "b")
    handoffs.relay_customer_message("a", "later", 200.0)
    head = due(handoffs)[0]
    handoffs.outbox().mark_failed(head.id, "429", retry_in=60)
    heads = [i for i in due(handoffs) if i.queue.startswith("desk")]  # (and "heard you" to customer a)
    assert [(i.kind, i.payload["handoff_id"]) for i in heads] == [(POST_CARD, second)]
    assert handoffs.outbox().pending_count() == 4 and first != second


def test_a_leased_item_is_not_given_to_a_second_worker(handoffs: HandoffStore) -> None:
    open_one(handoffs)
    first, second = handoffs.outbox(), handoffs.outbox()
    assert [i.kind for i in first.take_due()] == [POST_CARD]
    assert second.take_due() == []  # another process's worker: the item is leased


def test_outbox_worker_delivers_in_order_and_honours_retry_after(handoffs: HandoffStore) -> None:
    open_one(handoffs, "a")
    for n in range(3):
        handoffs.relay_customer_message("a", f"m{n}", 200.0 + n)
    delivered: list[str] = []
    failures = {"left": 2}

    async def deliver(item: OutboxRecord) -> None:
        if item.kind == POST_THREAD and item.payload["text"] == "m1" and failures["left"]:
            failures["left"] -= 1
            raise RetryLater("rate limited", retry_after=0.05)
        if item.queue.startswith("desk"):  # (the customer's queue has "your message is with us")
            delivered.append(item.payload.get("text", item.kind))

    worker = OutboxWorker(handoffs.outbox(), deliver, interval=0.01)

    async def drain() -> None:
        for _ in range(200):
            await worker.run_once()
            if not handoffs.outbox().pending_count():
                return
            await asyncio.sleep(0.02)

    asyncio.run(drain())
    assert delivered == [POST_CARD, "m0", "m1", "m2"] and failures["left"] == 0


def test_business_hours_and_their_wording() -> None:
    hours = BusinessHours(
        "Europe/London",
        frozenset({"mon", "tue", "wed", "thu", "fri"}),
        datetime(2026, 1, 1, 8).time(),
        datetime(2026, 1, 1, 20).time(),
    )
    monday_9_london = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # GMT in November
    assert hours.is_open(monday_9_london)
    assert not hours.is_open(monday_9_london.replace(hour=21))
    assert not hours.is_open(datetime(2026, 11, 22, 12, tzinfo=timezone.utc))  # Sunday
    assert hours.describe() == "Mon–Fri 08:00–20:00 (Europe/London time)"
    shipped = load_business_settings(ROOT / "business.yml").handoff
    assert shipped.claim_timeout == timedelta(minutes=5) and shipped.internal_note_prefix == "//"
