"""The metrics service: which events move which counters, exactly-once counting on
SQLite and PostgreSQL, and the whole service following Rasa's own SQL event broker."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from rasa.core.brokers.sql import SQLEventBroker

from bot.customers import CustomerStore
from bot.event_stream import EventSource
from bot.metrics import Count, MetricsStore, counts_for
from bot.metrics.service import create_app, prometheus_text, rates

DAY = 1_795_000_000.0  # 2026-11-18 UTC


def user(text: str, intent: str, channel: str = "rest", at: float = DAY) -> dict[str, Any]:
    return {"event": "user", "text": text, "timestamp": at, "input_channel": channel,
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}}}  # fmt: skip


def test_each_event_moves_the_counters_a_support_lead_reads() -> None:
    assert counts_for({"event": "session_started", "timestamp": DAY}) == [Count("conversations")]
    assert counts_for(user("where is my order", "order_status", "twitter")) == [
        Count("customer_messages", "twitter"),
        Count("intents", "order_status"),
    ]
    assert Count("not_understood") in counts_for(user("blorp", "nlu_fallback"))
    assert counts_for(user("/EXTERNAL_handoff_resolved", "EXTERNAL_handoff_resolved")) == []
    assert counts_for({"event": "bot", "text": "Hi!"}) == [Count("bot_messages")]
    agent = {"event": "bot", "text": "Alex here", "metadata": {"agent_id": "U1", "agent_name": "Alex"}}
    assert counts_for(agent) == [Count("agent_messages")]
    assert counts_for({"event": "slot", "name": "handoff_reason", "value": "customer asked"}) == [
        Count("handoffs", "customer asked")
    ]
    assert counts_for({"event": "slot", "name": "handoff_reason", "value": None}) == []
    assert counts_for({"event": "resume"}) == [Count("handoffs_resolved")]
    assert counts_for({"event": "action", "name": "action_listen"}) == []


def test_an_event_delivered_twice_is_counted_once(store: CustomerStore) -> None:
    metrics = MetricsStore(store)
    message = user("hi", "greet")
    assert metrics.record("c1", message) is True
    assert metrics.record("c1", message) is False  # a redelivery
    assert metrics.record("c2", message) is True  # same words, another customer
    assert metrics.record("c1", {"event": "action", "name": "action_listen"}) is False
    totals = metrics.totals()
    assert totals[("customer_messages", "rest")] == 2
    assert totals[("intents", "greet")] == 2


def test_rates_and_the_prometheus_page() -> None:
    day = {"conversations": {"": 10}, "handoffs": {"customer asked": 2, "angry": 1},
           "customer_messages": {"rest": 40}, "not_understood": {"": 4}}  # fmt: skip
    assert rates(day) == {"contained": 0.7, "understood": 0.9}
    assert rates({}) == {"contained": None, "understood": None}
    text = prometheus_text({("customer_messages", "rest"): 3, ("handoffs", 'say "hi"\n'): 1})
    assert 'supportbot_customer_messages_total{channel="rest"} 3' in text
    assert 'supportbot_handoffs_total{reason="say \\"hi\\"\\n"} 1' in text
    assert "supportbot_agent_messages_total 0" in text  # every counter is always there
    assert "# TYPE supportbot_conversations_total counter" in text


def test_the_service_counts_what_rasa_published_to_its_sql_broker_and_serves_it(
    tmp_path: Path, store: CustomerStore
) -> None:
    db = tmp_path / "broker.db"
    broker = SQLEventBroker(dialect="sqlite", db=str(db))
    published = [
        {"event": "session_started", "timestamp": DAY},
        user("hi", "greet"),
        {"event": "bot", "text": "Hello!", "timestamp": DAY + 1},
        user("asdfgh", "nlu_fallback", at=DAY + 2),
        {"event": "slot", "name": "handoff_reason", "value": "not understood", "timestamp": DAY + 3},
    ]
    for event in published:
        broker.publish({"sender_id": "web-1", **event})

    async def scenario() -> None:
        app = create_app(MetricsStore(store), EventSource("sql", f"sqlite:///{db}"), poll_interval=0.05)
        async with TestClient(TestServer(app)) as client:
            for _ in range(100):
                if (await (await client.get("/health")).json())["counted"] >= 5:
                    break
                await asyncio.sleep(0.05)
            page = await (await client.get("/metrics")).text()
            assert 'supportbot_customer_messages_total{channel="rest"} 2' in page
            assert 'supportbot_handoffs_total{reason="not understood"} 1' in page
            assert "supportbot_not_understood_total 1" in page
            bad = await client.get("/metrics/daily?days=soon")
            assert bad.status == 400 and "days" in (await bad.json())["error"]
        # a restarted service starts where it stopped: nothing counted twice
        broker.publish({"sender_id": "web-1", **user("thanks", "thank", at=DAY + 4)})
        again = create_app(MetricsStore(store), EventSource("sql", f"sqlite:///{db}"), poll_interval=0.05)
        async with TestClient(TestServer(again)) as client:
            for _ in range(100):
                if (await (await client.get("/health")).json())["counted"] >= 1:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
            assert (await (await client.get("/health")).json())["counted"] == 1
        assert MetricsStore(store).totals()[("customer_messages", "rest")] == 3

    asyncio.run(scenario())


@pytest.mark.parametrize("days", ["1", "400"])
def test_daily_report_is_per_day_with_rates(store: CustomerStore, days: str) -> None:
    metrics = MetricsStore(store)

    async def scenario() -> dict[str, Any]:
        import time

        now = time.time()
        metrics.record("c1", {"event": "session_started", "timestamp": now})
        metrics.record("c1", user("hi", "greet", at=now))
        app = create_app(metrics, EventSource("sql", "sqlite:///:memory:"))
        async with TestClient(TestServer(app)) as client:
            return await (await client.get(f"/metrics/daily?days={days}")).json()

    report = asyncio.run(scenario())
    (today,) = report.values()
    assert today["counts"]["customer_messages"] == {"rest": 1}
    assert today["contained"] == 1.0 and today["understood"] == 1.0
