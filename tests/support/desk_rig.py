"""The desk tests' common rig without Rasa: business.yml with routing, a relay on the fake Slack.

Why: every desk test (routing, moves, SLA, App Home, saved replies, the burst) needs the same
three things — the demo customers with a business.yml that routes to team channels, a
:class:`Relay` whose real slack_sdk client talks to the fake Slack, and a way to deliver what
the relay queued for the desk — and had written them again each time.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.web.async_client import AsyncWebClient

from bot.business import load_business_settings
from bot.customers import CustomerStore
from bot.handoff.desks.slack import SlackDesk
from bot.handoff.desks.slack.posts import SlackPosts
from bot.handoff.rasa_api import RasaAPI
from bot.handoff.relay import Relay
from bot.handoff.store import HandoffStore
from bot.outbox import Outbox, OutboxWorker
from tests.fakes.slack import FakeSlack
from tests.support.bot import write_business_file

NOWHERE = "http://127.0.0.1:9"  # no Rasa: these tests never reach the customer side


def use_routing(
    store: CustomerStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, routing: dict[str, Any]
) -> CustomerStore:
    """Point the bot at ``store`` and at a business.yml (team always in) with ``routing``."""
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", store.url)
    path = write_business_file(tmp_path / "business.yml")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["routing"] = routing
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("SUPPORTBOT_BUSINESS_FILE", str(path))
    return store


def desk_relay(store: CustomerStore, slack: FakeSlack, channel: str, **desk: Any) -> Relay:
    """A relay whose Slack desk posts to the fake (``channel``: the handoff channel), recording posts."""
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    slack_desk = SlackDesk(client, channel, SlackPosts(store), **desk)
    return Relay(HandoffStore(store), slack_desk, RasaAPI(NOWHERE), load_business_settings().handoff)


async def drain_desk(relay: Relay, deadline: float = 15) -> None:
    """Deliver what goes to the desk (cards, updates, thread posts); the customer side has no Rasa."""
    outbox = Outbox(relay.store.db.session, prefixes=("desk:",))
    worker = OutboxWorker(outbox, relay.deliver, interval=0.01, max_attempts=5, timeout=5)
    ends = time.monotonic() + deadline
    while outbox.pending_count():
        assert time.monotonic() < ends, "the outbox did not drain"
        await worker.run_once()
        await asyncio.sleep(0.02)
