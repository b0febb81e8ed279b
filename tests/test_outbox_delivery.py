"""Delivery guarantees of the outbox (bot/outbox.py) on real SQLite and PostgreSQL.

A crash is played the way it happens: a worker takes an item (its claim is committed), the
delivery reaches Slack or the inbox, and the process dies before it records the outcome
(``attempts`` stays 0); time passes until the lease runs out and another worker takes it.
Slack is the fake Slack server over real HTTP, through the relay's real ``slack_sdk`` client.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select, text, update

from bot.business import load_business_settings
from bot.customers import CustomerStore
from bot.db import engine
from bot.handoff.desks.base import Notice
from bot.handoff.desks.inbox import InboxDesk
from bot.handoff.desks.slack import SlackDesk
from bot.handoff.desks.slack.posts import SlackPosts
from bot.handoff.rasa_api import RasaAPI
from bot.handoff.relay import Relay
from bot.handoff.settings import SlackSettings
from bot.handoff.slack_app import build_slack_app
from bot.handoff.store import POST_CARD, POST_THREAD, RESUME_BOT, UPDATE_CARD, HandoffStore
from bot.migrations import upgrade
from bot.outbox import (
    DEAD,
    DELIVERED,
    PENDING,
    OutboxItem,
    OutboxRecord,
    OutboxWorker,
    RetryLater,
    all_queues,
)
from tests.fakes.slack import FakeSlack
from tests.support.bolt_app import serving
from tests.support.services import fresh_postgres_database

CHANNEL = "C0HANDOFF"
NOWHERE = "http://127.0.0.1:9"  # no Rasa: these tests never reach the customer side


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_channel(CHANNEL, "support-handoffs")
        yield fake


def slack_relay(store: CustomerStore, slack: FakeSlack) -> Relay:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    handoffs = HandoffStore(store)
    desk = SlackDesk(client, CHANNEL, SlackPosts(store))
    return Relay(handoffs, desk, RasaAPI(NOWHERE), load_business_settings().handoff)


def open_handoff(relay: Relay, conversation: str = "wc-crash") -> int:
    record, created = relay.store.open_handoff(
        conversation_id=conversation, channel="socketio", customer_id=None, reason="asked",
        packet={"transcript": []}, relay_after=100.0,
    )  # fmt: skip
    assert created
    return record.id


def take(relay: Relay, kind: str) -> OutboxRecord:
    """The worker's first step: lease the head item (the claim is committed before sending)."""
    items = [item for item in relay.store.outbox().take_due(lease=60) if item.kind == kind]
    assert len(items) == 1, items
    return items[0]


def crash(relay: Relay) -> None:
    """The worker died holding its leases; time passes until they run out."""
    with relay.store.db.session() as session:
        session.execute(update(OutboxItem).values(locked_until=None))


def row(relay: Relay, item_id: int) -> OutboxItem:
    with relay.store.db.session() as session:
        found = session.scalars(select(OutboxItem).where(OutboxItem.id == item_id)).one()
        session.expunge(found)
        return found


def desk_pending(relay: Relay) -> int:
    """Undelivered items for the desk (the customer's queue may wait on a Rasa that is not there)."""
    with relay.store.db.session() as session:
        query = select(func.count()).select_from(OutboxItem)
        return session.scalar(query.where(OutboxItem.status == PENDING, OutboxItem.queue.like("desk:%")))


async def drain(worker: OutboxWorker, relay: Relay, deadline: float = 15, desk_only: bool = False) -> None:
    ends = time.monotonic() + deadline
    while desk_pending(relay) if desk_only else relay.store.outbox().pending_count():
        assert time.monotonic() < ends, "the outbox did not drain"
        await worker.run_once()
        await asyncio.sleep(0.02)


def test_a_crash_after_slack_posted_never_posts_the_card_or_a_thread_message_twice(
    store: CustomerStore, slack: FakeSlack
) -> None:
    """Our posts are known from Slack's ``message_metadata_posted`` events (the relay's Bolt app
    records them), never by reading the channel back: Slack limits history reads to 1 a minute."""
    relay = slack_relay(store, slack)
    handoff_id = open_handoff(relay)
    worker = OutboxWorker(relay.store.outbox(), relay.deliver, interval=0.01, max_attempts=5, timeout=5)

    async def scenario() -> None:
        # 1. The card reaches Slack, the answer is lost and the worker dies on it (attempts stay 0).
        card_item = take(relay, POST_CARD)
        slack.lose_answers("chat.postMessage")
        with pytest.raises(RetryLater):
            await relay.deliver(card_item)
        slack.flush_events()  # Slack's metadata event for the post reached the app
        crash(relay)
        assert row(relay, card_item.id).attempts == 0 and row(relay, card_item.id).claims == 1
        await drain(worker, relay)
        cards = slack.messages(CHANNEL)
        assert len(cards) == 1  # found by its key in the channel, not posted again
        assert relay.store.get(handoff_id).card_ts == cards[0]["ts"]
        assert len(slack.replies(cards[0]["ts"])) == 1  # the how-to, once

        # 2. A customer message reaches the thread, then the worker dies before recording it.
        assert relay.store.relay_customer_message(
            "wc-crash", "my order never came", 200.0, channel="socketio"
        )
        message_item = take(relay, POST_THREAD)
        await relay.deliver(message_item)
        slack.flush_events()
        crash(relay)
        await drain(worker, relay, desk_only=True)  # (the customer's "heard you" has no Rasa here)
        texts = [reply["text"] for reply in slack.replies(cards[0]["ts"])]
        assert sum("my order never came" in text for text in texts) == 1, texts
        assert row(relay, message_item.id).status == DELIVERED

    settings = SlackSettings(slack.bot_token, slack.signing_secret, CHANNEL, api_url=slack.api_url)
    app = build_slack_app(relay, settings, AsyncWebClient(token=slack.bot_token, base_url=slack.api_url))
    with serving(app, slack) as url:
        slack.subscribe_app(url)
        asyncio.run(scenario())
    calls = slack.call_counts()
    assert calls.get("conversations.history", 0) == calls.get("conversations.replies", 0) == 0


def test_the_inbox_posts_each_delivery_at_most_once_across_a_crash(store: CustomerStore) -> None:
    handoffs = HandoffStore(store)
    relay = Relay(handoffs, InboxDesk(handoffs), RasaAPI(NOWHERE), load_business_settings().handoff)
    handoff_id = open_handoff(relay, "wc-inbox-crash")
    worker = OutboxWorker(handoffs.outbox(), relay.deliver, interval=0.01, max_attempts=5, timeout=5)

    async def scenario() -> None:
        card_item = take(relay, POST_CARD)
        await relay.desk.show_card({"transcript": []}, _state(relay, handoff_id), None, key=card_item.key)
        crash(relay)  # the card row is there, the handoff does not know it yet
        await drain(worker, relay)
        handoff = handoffs.get(handoff_id)
        cards = [m for m in _inbox_rows(handoffs) if m["thread_ts"] is None]
        assert [c["ts"] for c in cards] == [handoff.card_ts]
        assert len(handoffs.desk_thread(handoff.card_ts)) == 1  # the how-to, once

    asyncio.run(scenario())


def test_a_delivery_slack_keeps_failing_becomes_a_visible_dead_letter_and_its_queue_flows_on(
    store: CustomerStore, slack: FakeSlack
) -> None:
    relay = slack_relay(store, slack)
    handoff_id = open_handoff(relay, "wc-dead")
    reported: list[str] = []

    async def on_dead(item: OutboxRecord, reason: str) -> None:
        reported.append(item.kind)
        await relay.on_dead_letter(item, reason)

    worker = OutboxWorker(
        relay.store.outbox(), relay.deliver, interval=0.01, max_attempts=3, timeout=5, on_dead=on_dead
    )

    async def scenario() -> None:
        await drain(worker, relay)  # the card and its how-to
        slack.fail("chat.update", 503, times=1000)  # Slack refuses every card update from now on
        relay.store.record_followup("wc-dead", "please call me back")  # a card update, then a thread post
        await drain(worker, relay, deadline=30)

    asyncio.run(scenario())
    card_ts = relay.store.get(handoff_id).card_ts
    with relay.store.db.session() as session:
        update_row = session.scalars(select(OutboxItem).where(OutboxItem.kind == UPDATE_CARD)).one()
    assert (update_row.status, update_row.attempts, update_row.delivered_at) == (DEAD, 3, None)
    assert "OUTBOX_MAX_ATTEMPTS" in update_row.last_error and reported == [UPDATE_CARD]
    texts = [reply["text"] for reply in slack.replies(card_ts)]
    assert any("please call me back" in text for text in texts), texts  # the item behind it went out
    assert sum("Gave up on updating this card" in text for text in texts) == 1, texts  # agents are told
    assert all_queues(relay.store.db.session).dead_count() == 1  # the number the worker's /health shows
    assert relay.store.outbox().pending_count() == 0


def test_a_message_slack_refuses_for_good_is_set_aside_at_once(
    store: CustomerStore, slack: FakeSlack
) -> None:
    relay = slack_relay(store, slack)
    handoff_id = open_handoff(relay, "wc-gone")
    worker = OutboxWorker(relay.store.outbox(), relay.deliver, interval=0.01, max_attempts=25, timeout=5)

    async def scenario() -> None:
        await drain(worker, relay)
        relay.store.set_card(handoff_id, CHANNEL, "1600000000.000100")  # someone deleted the card in Slack
        relay.store.record_followup("wc-gone", "hello?")
        await drain(worker, relay)

    asyncio.run(scenario())
    with relay.store.db.session() as session:
        update_row = session.scalars(select(OutboxItem).where(OutboxItem.kind == UPDATE_CARD)).one()
    assert (update_row.status, update_row.attempts) == (DEAD, 1)  # no 25 retries of a hopeless call
    assert "message_not_found" in update_row.last_error


def test_each_attempt_is_timed_out_and_the_next_one_checks_the_destination_first(
    store: CustomerStore,
) -> None:
    handoffs = HandoffStore(store)
    handoffs.post_notice(1, Notice.CLAIMED, {"agent": "Alex"})
    seen: list[OutboxRecord] = []

    async def deliver(item: OutboxRecord) -> None:
        seen.append(item)
        if len(seen) == 1:
            await asyncio.sleep(30)  # the other side never answers

    worker = OutboxWorker(handoffs.outbox(), deliver, interval=0.01, max_attempts=5, timeout=0.3)

    async def scenario() -> None:
        started = time.monotonic()
        assert await worker.run_once() == 0
        assert time.monotonic() - started < 5
        with handoffs.db.session() as session:
            session.execute(update(OutboxItem).values(next_attempt_at=OutboxItem.created_at))
        assert await worker.run_once() == 1

    asyncio.run(scenario())
    assert [(item.in_doubt, item.claims, item.attempts) for item in seen] == [(False, 0, 0), (True, 1, 1)]
    assert "OUTBOX_ITEM_TIMEOUT" in (row_error(handoffs, seen[0].id) or "")


def test_a_crashed_resume_is_not_triggered_again_when_rasa_already_has_it(store: CustomerStore) -> None:
    """The bot's return (``customer.resume``) in doubt: Rasa's tracker says whether it happened."""
    handoffs = HandoffStore(store)
    calls: list[str] = []

    async def tracker(request: web.Request) -> web.Response:
        calls.append(f"GET {request.path}")
        resumed = {"event": "user", "timestamp": time.time(),
                   "parse_data": {"intent": {"name": "EXTERNAL_handoff_resolved"}}}  # fmt: skip
        return web.json_response({"events": [resumed]})

    async def anything_else(request: web.Request) -> web.Response:
        calls.append(f"{request.method} {request.path}")
        return web.json_response({})

    async def scenario() -> None:
        app = web.Application()
        app.router.add_get("/conversations/{id}/tracker", tracker)
        app.router.add_route("*", "/{tail:.*}", anything_else)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            rasa = RasaAPI(f"http://127.0.0.1:{port}")
            relay = Relay(handoffs, InboxDesk(handoffs), rasa, load_business_settings().handoff)
            handoff_id = open_handoff(relay, "wc-resume")
            payload = {"handoff_id": handoff_id, "intent": "EXTERNAL_handoff_resolved"}
            await relay.deliver(OutboxRecord(7, "customer:wc-resume", RESUME_BOT, payload, 0, claims=1))
        finally:
            await runner.cleanup()

    asyncio.run(scenario())
    assert calls == ["GET /conversations/wc-resume/tracker"]  # looked, found it, did not trigger again


def row_error(handoffs: HandoffStore, item_id: int) -> str | None:
    with handoffs.db.session() as session:
        return session.scalar(select(OutboxItem.last_error).where(OutboxItem.id == item_id))


def _state(relay: Relay, handoff_id: int) -> Any:
    from bot.handoff.desks.base import card_state

    return card_state(relay.store.get(handoff_id))


def _inbox_rows(handoffs: HandoffStore) -> list[dict[str, Any]]:
    from bot.handoff.models import DeskMessage

    with handoffs.db.session() as session:
        return [{"ts": m.ts, "thread_ts": m.thread_ts} for m in session.scalars(select(DeskMessage))]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_migration_turns_old_dead_letters_stamped_delivered_into_dead_ones(
    dialect: str, tmp_path: Path
) -> None:
    with contextlib.ExitStack() as stack:
        if dialect == "sqlite":
            url = f"sqlite:///{tmp_path / 'old.db'}"
        else:
            url = stack.enter_context(fresh_postgres_database())
            stack.callback(lambda: engine(url).dispose())
        upgrade(url, "0004")
        insert = text(
            "INSERT INTO outbox (queue, kind, payload, attempts, next_attempt_at, created_at, delivered_at,"
            " last_error) VALUES (:queue, 'desk.post_thread', '{}', :attempts, :at, :at, :done, :error)"
        )
        at = datetime(2026, 11, 30, 12, 0)
        with engine(url).begin() as connection:
            for queue, attempts, done, error in [
                ("desk:1", 1, at, None),  # delivered
                ("desk:2", 4, at, "gave up: X refused it (403)"),  # a dead letter, stamped delivered
                ("desk:3", 2, None, "Slack unreachable"),  # still pending
            ]:
                connection.execute(
                    insert, {"queue": queue, "attempts": attempts, "at": at, "done": done, "error": error}
                )
        upgrade(url)
        with engine(url).connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT queue, status, delivered_at IS NULL, dead_at IS NULL, claims"
                    " FROM outbox ORDER BY id"
                )
            ).all()
    assert [tuple(r) for r in rows] == [
        ("desk:1", DELIVERED, False, True, 1),
        ("desk:2", DEAD, True, False, 4),
        ("desk:3", "pending", True, True, 2),  # earlier attempts count as claims: checked before resending
    ]


def test_dead_letters_can_be_given_new_attempts_once_the_cause_is_fixed(store: CustomerStore) -> None:
    handoffs = HandoffStore(store)
    handoffs.post_notice(1, Notice.CLAIMED, {"agent": "Alex"})
    fixed = {"yet": False}

    async def deliver(item: OutboxRecord) -> None:
        if not fixed["yet"]:
            raise RetryLater("Slack error 200 not_in_channel", retry_after=0)

    worker = OutboxWorker(handoffs.outbox(), deliver, interval=0.01, max_attempts=2, timeout=5)

    async def scenario() -> None:
        for _ in range(2):
            await worker.run_once()
        assert handoffs.outbox().dead_count() == 1 and handoffs.outbox().pending_count() == 0
        fixed["yet"] = True  # the bot was invited to the channel
        assert handoffs.outbox().requeue_dead() == 1
        assert await worker.run_once() == 1

    asyncio.run(scenario())
    assert handoffs.outbox().dead_count() == 0
