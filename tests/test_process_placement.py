"""Which process runs what: Rasa replicas serve conversations, the worker runs what runs once.

- the action server loads rasa-sdk and our small modules, never Rasa's policy code;
- the worker is one aiohttp app: relay routes, metrics routes and one ``/health``;
- the X poller (in the worker) hands what it reads to Rasa's X channel (``/polled``, signed
  with our own key, not X's), and only moves its cursor once Rasa took the event: Rasa
  being down delays a message, it never loses or repeats one. X is the real-protocol fake
  (tests/fakes/x/), whose own signature code checks ours.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from rasa.core.brokers.sql import SQLEventBroker

from bot.channels.x_api import make_client
from bot.channels.x_store import XStore
from bot.channels.x_worker import RasaXWebhook, XPoller
from bot.customers import CustomerStore
from bot.event_stream import EventSource
from bot.handoff.settings import RelaySettings
from bot.migrations import upgrade
from bot.outbox import RetryLater
from bot.worker import WorkerSettings, create_app
from tests.fakes.x import FakeX
from tests.fakes.x.polled_rasa import PolledRasaStandIn
from tests.support import ROOT
from tests.support.x import fake_x_settings

MARIA = "1400000000000000001"
METRICS_TOKEN = "metrics-token-for-the-worker-under-test-0123456789"


def test_the_action_server_does_not_import_rasas_policy_code() -> None:
    # Load the actions the way ``python -m rasa_sdk --actions actions`` does: every submodule.
    script = (
        "import json, sys; from rasa_sdk.executor import ActionExecutor; "
        "ActionExecutor().register_package('actions'); print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "actions.handoff" in loaded and "rasa_sdk" in loaded
    assert [name for name in loaded if name == "rasa" or name.startswith("rasa.")] == []


def test_one_worker_app_serves_the_relay_and_the_metrics_and_counts_what_rasa_published(
    tmp_path: Path,
) -> None:
    db = tmp_path / "broker.db"
    rasa = SQLEventBroker(dialect="sqlite", db=str(db))
    greet = {"intent": {"name": "greet", "confidence": 0.9}}
    rasa.publish({"sender_id": "web-1", "event": "user", "text": "hi", "timestamp": time.time(),
                  "input_channel": "rest", "parse_data": greet})  # fmt: skip
    events = EventSource("sql", f"sqlite:///{db}")
    database = f"sqlite:///{tmp_path / 'customers.db'}"
    upgrade(database)  # as the start command does; servers never migrate
    settings = WorkerSettings(
        relay=RelaySettings("http://127.0.0.1:9", None, events, slack=None, poll_interval=0.05),
        metrics_events=events,
        x=None,
        database_url=database,
        metrics_token=METRICS_TOKEN,
    )
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}

    async def scenario() -> None:
        async with TestClient(TestServer(create_app(settings))) as client:
            for _ in range(100):
                health = await (await client.get("/health", headers=auth)).json()
                if health["metrics"]["counted"] >= 1:
                    break
                await asyncio.sleep(0.05)
            assert health["status"] == "ok" and health["desk"] == "local" and health["x"] == "off"
            assert health["pending_deliveries"] == 0 and health["metrics"]["counted"] == 1
            assert await (await client.get("/health")).json() == {"status": "ok"}  # no token: no details
            assert (await client.get("/metrics")).status == 401
            prometheus = await (await client.get("/metrics", headers=auth)).text()
            assert 'supportbot_customer_messages_total{channel="rest"} 1' in prometheus
            assert (await client.get("/metrics/daily?days=1", headers=auth)).status == 200
            assert (await client.get("/inbox")).status == 200  # no Slack: the inbox is the desk
            assert (await client.get("/inbox/api/handoffs")).status == 401  # behind agent accounts
            assert (await client.post("/slack/events", data=b"{}")).status == 404  # no Slack: no endpoint

    asyncio.run(scenario())


def test_the_x_poller_hands_each_dm_and_mention_to_rasas_webhook_once_even_across_rasa_being_down(
    tmp_path: Path,
) -> None:
    customers = CustomerStore(f"sqlite:///{tmp_path / 'customers.db'}")
    upgrade(customers.url)
    store = XStore(customers)
    with FakeX() as x:
        x.add_user(MARIA, "maria_lopez", "Maria Lopez")
        settings = fake_x_settings(x)
        rasa = PolledRasaStandIn("polled-events-key-for-the-stand-in")

        async def scenario() -> None:
            async with TestServer(rasa.app()) as server:
                webhook = RasaXWebhook(str(server.make_url("")), rasa.key, timeout=10)
                poller = XPoller(settings, store, make_client(settings), webhook)
                try:
                    await poller.poll_once()  # the first poll only marks "now"
                    x.add_mention(MARIA, "@hearthlink how long does delivery take?")
                    x.add_dm(MARIA, "where is my order?")
                    rasa.down = True
                    try:
                        await poller.poll_once()
                        raise AssertionError("a poll while Rasa is down must fail")
                    except RetryLater as exc:
                        assert "503" in str(exc)
                    rasa.down = False
                    await poller.poll_once()
                    await poller.poll_once()  # nothing new: nothing again
                finally:
                    await webhook.close()

        asyncio.run(scenario())

    assert rasa.refused == 0
    assert len(rasa.accepted) == 2, rasa.accepted
    mention, dm = rasa.accepted
    (tweet,) = mention["tweet_create_events"]
    assert tweet["user"] == {"id_str": MARIA, "screen_name": "maria_lopez"}
    assert tweet["text"] == "@hearthlink how long does delivery take?"
    assert {"id_str": x.brand_id} in tweet["entities"]["user_mentions"]
    (event,) = dm["direct_message_events"]
    assert event["type"] == "message_create" and event["message_create"]["sender_id"] == MARIA
    assert event["message_create"]["message_data"]["text"] == "where is my order?"
