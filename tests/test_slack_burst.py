"""Fifty handoffs at once across two teams, against the fake Slack with its rate limits on.

Slack allows about one ``chat.postMessage`` a second per channel, with short bursts; beyond that
it answers 429 with ``Retry-After``. The relay must queue a burst in the outbox and pace its
posts per channel (bot/handoff/desks/slack/pacing.py), never lose or duplicate one, keep each
conversation's messages in order, and not answer a 429 with a storm of retries.

The rate: at Slack's 1 a second per channel, the 250 posts here (50 cards, their 50 how-to
notes, 150 customer messages, over 2 channels) take over two minutes whatever the code does. So
the fake limits at 10 a second per channel with a burst of 5 — still a limit the relay must
respect, only faster — and the desk's pacer is told 10 a second with a burst of 7: like a real
deployment whose guess of Slack's burst is a little high, it meets a few 429s at the start and
must honour them (the channel waits ``Retry-After``, then posts without a burst).

The parts are the real ones (Relay, SlackDesk, OutboxWorker, the real slack_sdk client over
HTTP, the relay's Bolt app receiving Slack's 250 ``message_metadata_posted`` events over HTTP or
Socket Mode) on real SQLite and PostgreSQL; no Rasa (the customer side is not reached).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select

from bot.business import load_business_settings
from bot.customers import CustomerStore
from bot.handoff.desks.slack import SlackDesk
from bot.handoff.desks.slack.pacing import ChannelPacer
from bot.handoff.desks.slack.posts import SlackPosts
from bot.handoff.models import SlackPost
from bot.handoff.rasa_api import RasaAPI
from bot.handoff.relay import Relay
from bot.handoff.routing import RouteFacts, parse_routing_settings, route
from bot.handoff.settings import SlackSettings
from bot.handoff.slack_app import build_slack_app
from bot.handoff.store import HandoffStore
from bot.outbox import DEAD, Outbox, OutboxItem, OutboxWorker
from tests.fakes.slack import FakeSlack
from tests.support.bolt_app import serving
from tests.support.desk_rig import use_routing

HANDOFF_CHANNEL = "C0HANDOFF"
BILLING = "C0BILLING"
NOWHERE = "http://127.0.0.1:9"
ROUTING = {
    "teams": {"billing": {"channel": BILLING}, "general": {}},  # general: the handoff channel
    "rules": [
        {"name": "billing", "team": "billing", "when": {"topic": ["billing_dispute"]}},
        {"name": "default", "team": "general"},
    ],
}
HANDOFFS = 50
MESSAGES = 3  # customer messages per handoff
SLACK_RATE, SLACK_BURST = 10.0, 5
OUR_RATE, OUR_BURST = 10.0, 7


@pytest.fixture(autouse=True)
def use_store(store: CustomerStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CustomerStore:
    return use_routing(store, monkeypatch, tmp_path, ROUTING)


@pytest.fixture(params=["http", "socket"])
def slack(request: pytest.FixtureRequest) -> Iterator[FakeSlack]:
    """Slack with its rate limits on; it tells the app about each post over HTTP or Socket Mode."""
    with FakeSlack(rate_limit=True, socket_mode=request.param == "socket") as fake:
        fake.limit_rate(per_second=SLACK_RATE, burst=SLACK_BURST)
        fake.add_channel(HANDOFF_CHANNEL, "support")
        fake.add_channel(BILLING, "billing")
        yield fake


def open_burst(store: HandoffStore) -> dict[str, str]:
    """Fifty handoffs, every other one billing's, each with three customer messages queued."""
    routing = parse_routing_settings(ROUTING)
    channels = {}
    for n in range(HANDOFFS):
        conversation = f"burst-{n:02d}"
        billing = n % 2 == 0
        found = route(routing, RouteFacts("rest", intent="billing_dispute" if billing else "human_handoff"))
        assert found is not None and found.team.name == ("billing" if billing else "general")
        _, created = store.open_handoff(
            conversation_id=conversation, channel="rest", customer_id=None, reason="asked",
            packet={"transcript": [], "conversation_id": conversation}, relay_after=100.0, route=found,
        )  # fmt: skip
        assert created
        for m in range(MESSAGES):
            assert store.relay_customer_message(
                conversation, f"{conversation} says #{m}", 200.0 + m, channel="rest"
            )
        channels[conversation] = BILLING if billing else HANDOFF_CHANNEL
    return channels


async def deliver_all(relay: Relay, deadline: float) -> None:
    desk = Outbox(relay.store.db.session, prefixes=("desk:",))
    worker = OutboxWorker(desk, relay.deliver, interval=0.01, max_attempts=10, timeout=10)
    ends = time.monotonic() + deadline
    while desk.pending_count():
        assert time.monotonic() < ends, f"the outbox did not drain: {desk.pending_count()} left"
        if not await worker.run_once():
            await asyncio.sleep(0.02)


def test_fifty_handoffs_at_once_arrive_complete_in_order_without_a_retry_storm(
    use_store: CustomerStore, slack: FakeSlack
) -> None:
    handoffs = HandoffStore(use_store)
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    pacer = ChannelPacer(OUR_RATE, OUR_BURST)
    desk = SlackDesk(client, HANDOFF_CHANNEL, SlackPosts(use_store), pacer=pacer)
    relay = Relay(handoffs, desk, RasaAPI(NOWHERE), load_business_settings().handoff)
    channels = open_burst(handoffs)
    settings = SlackSettings(slack.bot_token, slack.signing_secret, HANDOFF_CHANNEL, api_url=slack.api_url,
                             team_channels=frozenset({BILLING}))  # fmt: skip
    with serving(build_slack_app(relay, settings, client), slack) as url:
        slack.subscribe_app(url)
        started = time.monotonic()
        asyncio.run(deliver_all(relay, deadline=80))
        took = time.monotonic() - started
        slack.flush_events()

    # Every card in its team's channel, once; its thread: the how-to, then the 3 messages in order.
    for conversation, channel in channels.items():
        cards = [m for m in slack.messages(channel) if conversation in json.dumps(m.get("blocks"))]
        assert len(cards) == 1, (conversation, channel)
        texts = [str(r.get("text")) for r in slack.replies(cards[0]["ts"])]
        assert len(texts) == 1 + MESSAGES, (conversation, texts)
        said = [t for t in texts if conversation in t]
        assert len(said) == MESSAGES and all(f"#{m}" in said[m] for m in range(MESSAGES)), said
        assert handoffs.latest_for(conversation).card_ts == cards[0]["ts"]
    assert {len(slack.messages(c)) for c in (BILLING, HANDOFF_CHANNEL)} == {HANDOFFS // 2}
    with use_store.session() as session:
        assert (
            session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.status == DEAD)) == 0
        )

    # The calls: one chat.postMessage per post, plus one per 429 answered, and few of those.
    posts = HANDOFFS * (2 + MESSAGES)
    limited = slack.rate_limited()
    calls = slack.call_counts()
    assert calls["chat.postMessage"] == posts + len(limited), (calls, len(limited))
    first = min((at for _c, at, _r in limited), default=0.0)
    assert len(limited) <= posts // 20, [
        (c, round(at - first, 3), r) for c, at, r in limited
    ]  # no retry storm: at most 5 % refused
    assert not calls.get("conversations.history") and not calls.get("conversations.replies")
    # Slack's 250 metadata events reached the app and changed nothing: each post recorded once.
    with use_store.session() as session:
        recorded = session.scalar(
            select(func.count()).select_from(SlackPost).where(SlackPost.author == "bot")
        )
    assert recorded == posts and len(slack.metadata_deliveries()) == posts

    # Retry-After honoured: after a 429, nothing new went to that channel until it had passed
    # (requests already on the wire when it was answered, within 0.2 s, aside).
    for channel, at, retry_after in limited:
        early = [t for t in slack.post_attempts(channel) if at + 0.2 < t < at + retry_after - 0.05]
        assert early == [], (channel, at, retry_after, early)
    # …and the pace: no channel got more than its rate over any second (plus the burst).
    for channel in (BILLING, HANDOFF_CHANNEL):
        times = slack.post_attempts(channel)
        worst = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
        assert worst <= SLACK_RATE + OUR_BURST, (channel, worst)
    assert took < 80
    print(f"{posts} posts in {took:.1f} s, {len(limited)} answered 429")
