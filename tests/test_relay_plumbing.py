"""Relay settings and the event stream it follows, against Rasa's own SQL event broker.

The broker runs on real SQLite and real PostgreSQL (the production profile); the relay
must read what Rasa wrote, in order, and after a restart neither replay nor skip.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from rasa.core.brokers.sql import SQLEventBroker
from sqlalchemy.engine import make_url

from bot.customers import CustomerStore
from bot.handoff.event_stream import SQLEventStream, follow
from bot.handoff.settings import RelaySettingsError, event_stream_url, slack_settings
from bot.handoff.store import HandoffStore
from tests.conftest import ROOT


def test_slack_settings_are_all_or_nothing_and_socket_mode_needs_an_app_token() -> None:
    assert slack_settings({}) is None
    full = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_HANDOFF_CHANNEL": "C1"}
    assert slack_settings(full).mode == "http"
    with pytest.raises(RelaySettingsError, match="SLACK_SIGNING_SECRET"):
        slack_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_HANDOFF_CHANNEL": "C1"})
    with pytest.raises(RelaySettingsError, match="SLACK_APP_TOKEN"):
        slack_settings({**full, "SLACK_MODE": "socket"})
    with pytest.raises(RelaySettingsError, match="http"):
        slack_settings({**full, "SLACK_MODE": "carrier-pigeon"})
    assert slack_settings({**full, "SLACK_MODE": "socket", "SLACK_APP_TOKEN": "xapp-1"}).app_token == "xapp-1"


def test_event_stream_url_follows_both_endpoint_profiles(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert event_stream_url(ROOT / "endpoints.yml") == "sqlite:///.data/broker.db"
    for name, value in {"DB_HOST": "db", "DB_PORT": "5432", "DB_USER": "bot", "DB_PASSWORD": "pw",
                        "BROKER_DB_NAME": "events"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    assert event_stream_url(ROOT / "endpoints.production.yml") == "postgresql://bot:pw@db:5432/events"
    no_broker = tmp_path / "endpoints.yml"
    no_broker.write_text("action_endpoint:\n  url: http://localhost:5055/webhook\n")
    with pytest.raises(RelaySettingsError, match="event_broker"):
        event_stream_url(no_broker)


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
    handoffs = HandoffStore(store)
    seen: list[str] = []

    async def on_event(sender_id: str, event: dict[str, Any]) -> None:
        seen.append(event["text"])

    async def follow_for(seconds: float) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(follow(SQLEventStream(url), handoffs, on_event, stop, interval=0.05))
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
