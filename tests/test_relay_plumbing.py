"""Relay settings and the event stream it follows, against Rasa's own SQL event broker.

The broker runs on real SQLite and real PostgreSQL (the production profile); the relay
must read what Rasa wrote, in order, and after a restart neither replay nor skip.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from rasa.core.brokers.sql import SQLEventBroker
from sqlalchemy.engine import make_url

from bot.customers import CustomerStore
from bot.event_stream import (
    EventSource,
    EventSourceError,
    SQLEventStream,
    consume,
    event_source,
)
from bot.handoff.settings import RelaySettingsError, slack_settings
from bot.stream_cursors import StreamCursors
from tests.support import ROOT
from tests.support.services import delete_rabbitmq_queues, require_service, restart_rabbitmq


def test_slack_settings_are_all_or_nothing_and_socket_mode_needs_an_app_token() -> None:
    assert slack_settings({}) is None
    full = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_HANDOFF_CHANNEL": "C1"}
    assert slack_settings(full).mode == "http"
    with pytest.raises(RelaySettingsError, match="SLACK_SIGNING_SECRET"):
        slack_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_HANDOFF_CHANNEL": "C1"})
    with pytest.raises(RelaySettingsError, match="SLACK_APP_TOKEN"):
        slack_settings({**full, "SLACK_MODE": "socket"})
    with pytest.raises(RelaySettingsError, match="starting xapp-"):  # a bot token pasted by mistake
        slack_settings({**full, "SLACK_MODE": "socket", "SLACK_APP_TOKEN": "xoxb-1"})
    with pytest.raises(RelaySettingsError, match="http"):
        slack_settings({**full, "SLACK_MODE": "carrier-pigeon"})
    assert slack_settings({**full, "SLACK_MODE": "socket", "SLACK_APP_TOKEN": "xapp-1"}).app_token == "xapp-1"


def test_the_relay_follows_the_broker_of_either_endpoint_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert event_source(ROOT / "endpoints.yml") == EventSource("sql", "sqlite:///.data/broker.db")
    for name, value in {"RABBITMQ_HOST": "mq", "RABBITMQ_PORT": "5672", "RABBITMQ_USER": "bot",
                        "RABBITMQ_PASSWORD": "p@ss", "RABBITMQ_QUEUE": "handoff_relay",
                        "RABBITMQ_METRICS_QUEUE": "metrics"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    production = event_source(ROOT / "endpoints.production.yml")
    assert production == EventSource("rabbitmq", "amqp://bot:p%40ss@mq:5672/", "handoff_relay")
    metrics = event_source(ROOT / "endpoints.production.yml", queue="metrics")
    assert metrics == EventSource("rabbitmq", "amqp://bot:p%40ss@mq:5672/", "metrics")
    with pytest.raises(EventSourceError, match=r"'reports' is not in event_broker\.queues"):
        event_source(ROOT / "endpoints.production.yml", queue="reports")
    postgres = tmp_path / "postgres-broker.yml"
    postgres.write_text(
        "event_broker: {type: SQL, dialect: postgresql, url: db, port: 5432, username: u, db: ev}"
    )
    assert event_source(postgres) == EventSource("sql", "postgresql://u@db:5432/ev")
    no_broker = tmp_path / "endpoints.yml"
    no_broker.write_text("action_endpoint:\n  url: http://localhost:5055/webhook\n")
    with pytest.raises(EventSourceError, match="event_broker"):
        event_source(no_broker)


@pytest.fixture(params=["sqlite", "postgresql"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[SQLEventBroker, str]:
    if request.param == "sqlite":
        db = tmp_path / "broker.db"
        return SQLEventBroker(dialect="sqlite", db=str(db)), f"sqlite:///{db}"
    url = make_url(request.getfixturevalue("postgres_url"))
    broker = SQLEventBroker(dialect="postgresql", host=url.host, port=url.port, db=url.database,
                            username=url.username)  # fmt: skip
    with broker.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM events")
    return broker, f"postgresql://{url.username}@{url.host}:{url.port}/{url.database}"


def test_the_relay_reads_what_rasa_published_in_order_and_resumes_after_a_restart(
    broker: tuple[SQLEventBroker, str], store: CustomerStore
) -> None:
    rasa_broker, url = broker
    for n in range(5):
        rasa_broker.publish({"sender_id": "c1", "event": "user", "text": f"m{n}", "timestamp": 100.0 + n})
    cursors = StreamCursors(store)
    seen: list[str] = []

    async def on_event(sender_id: str, event: dict[str, Any]) -> None:
        seen.append(event["text"])

    async def follow_for(seconds: float) -> None:
        stop = asyncio.Event()
        reading = consume(EventSource("sql", url), on_event, stop, cursors=cursors, interval=0.05)
        task = asyncio.create_task(reading)
        await asyncio.sleep(seconds)
        stop.set()
        await task

    asyncio.run(follow_for(0.5))
    assert seen == ["m0", "m1", "m2", "m3", "m4"]
    rasa_broker.publish({"sender_id": "c1", "event": "user", "text": "m5", "timestamp": 106.0})
    asyncio.run(follow_for(0.5))  # a restarted relay: only what is new
    assert seen == ["m0", "m1", "m2", "m3", "m4", "m5"]


def test_a_stream_without_rasa_having_started_yet_is_simply_empty(tmp_path: Path) -> None:
    assert SQLEventStream(f"sqlite:///{tmp_path / 'not-yet.db'}").read_after(0) == []


RABBITMQ = ("127.0.0.1", 5672)


def test_events_from_rabbitmq_arrive_in_order_and_survive_relay_and_broker_restarts() -> None:
    """Rasa's own PikaEventBroker publishes; the relay's consumer reads the durable queue."""
    require_service("RabbitMQ", *RABBITMQ)
    from rasa.core.brokers.pika import PikaEventBroker

    queue = f"relay_test_{uuid.uuid4().hex[:8]}"
    url = "amqp://guest:guest@127.0.0.1:5672/"
    seen: list[str] = []

    async def on_event(sender_id: str, event: dict[str, Any]) -> None:
        seen.append(event["text"])

    async def publish(texts: list[str]) -> None:
        broker = PikaEventBroker("127.0.0.1", "guest", "guest", queues=[queue])
        await broker.connect()
        for text in texts:
            broker.publish({"sender_id": "c1", "event": "user", "text": text})
        await asyncio.sleep(0.5)  # Rasa publishes in background tasks
        await broker.close()

    async def consume_for(seconds: float) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(consume(EventSource("rabbitmq", url, queue), on_event, stop))
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    async def scenario() -> None:
        await publish(["m0", "m1", "m2"])
        await consume_for(1.5)
        assert seen == ["m0", "m1", "m2"]
        await publish(["m3", "m4"])  # the relay is down: the messages wait in the queue
        restart_rabbitmq()  # and survive a broker restart (durable queue, persistent messages)
        await consume_for(2.0)
        assert seen == ["m0", "m1", "m2", "m3", "m4"]

    try:
        asyncio.run(scenario())
    finally:
        delete_rabbitmq_queues(queue)
