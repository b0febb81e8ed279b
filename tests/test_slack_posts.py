"""The Slack desk never reads Slack back: our posts and the agents' replies are written down.

Slack limits ``conversations.history`` / ``conversations.replies`` to one request a minute for
apps outside its Marketplace, so a desk that looked there for a post in doubt (or for a thread
to erase) would stall on the first burst. Here, on real SQLite and PostgreSQL, against the fake
Slack over real HTTP with the relay's real Bolt app receiving its events (no Rasa): a whole
handoff with answers lost in the middle posts nothing twice and makes no such call; erasing uses
the record; and ``message_metadata_posted`` events that are not our own app's prove nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update

from bot.business import load_business_settings
from bot.customers import CustomerStore
from bot.handoff.desks.base import CardRef
from bot.handoff.desks.slack import SlackDesk
from bot.handoff.desks.slack.desk import DELIVERY_EVENT
from bot.handoff.desks.slack.pacing import ChannelPacer
from bot.handoff.desks.slack.posts import BOT, SlackPosts
from bot.handoff.rasa_api import RasaAPI
from bot.handoff.relay import Relay
from bot.handoff.settings import SlackSettings
from bot.handoff.slack_app import build_slack_app
from bot.handoff.store import POST_CARD, POST_THREAD, HandoffStore
from bot.outbox import OutboxItem, OutboxWorker, RetryLater
from bot.retention.slack_cleanup import delete_threads
from tests.fakes.slack import FakeSlack
from tests.support.bolt_app import BoltServer
from tests.test_outbox_delivery import open_handoff, take

CHANNEL = "C0HANDOFF"
NOWHERE = "http://127.0.0.1:9"  # no Rasa: the customer side is never reached
READ_BACK = ("conversations.history", "conversations.replies")


class SlackEndpoint(BoltServer):
    """The relay's ``POST /slack/events`` (its real Bolt app) on a thread of its own, like the worker."""

    def __init__(self, relay: Relay, settings: SlackSettings, client: AsyncWebClient) -> None:
        super().__init__(build_slack_app(relay, settings, client))

    @property
    def url(self) -> str:
        return f"{self.base_url}/slack/events"


def desk(store: CustomerStore, slack: FakeSlack) -> SlackDesk:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    return SlackDesk(client, CHANNEL, SlackPosts(store), pacer=ChannelPacer(50, 10))


def new_relay(store: CustomerStore, slack: FakeSlack) -> Relay:
    return Relay(HandoffStore(store), desk(store, slack), RasaAPI(NOWHERE), load_business_settings().handoff)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_channel(CHANNEL, "support")
        fake.add_user("UALEX", "Alex Doe", "Alex")
        yield fake


@pytest.fixture
def endpoint(store: CustomerStore, slack: FakeSlack) -> Iterator[SlackEndpoint]:
    """The Slack side of the relay (a second Relay on the same database, as in another worker)."""
    settings = SlackSettings(slack.bot_token, slack.signing_secret, CHANNEL, api_url=slack.api_url)
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    with SlackEndpoint(new_relay(store, slack), settings, client) as served:
        slack.subscribe_app(served.url)
        yield served


def crash(relay: Relay) -> None:
    """The worker died holding its lease; the lease runs out (the claim stays counted)."""
    with relay.store.db.session() as session:
        session.execute(update(OutboxItem).values(locked_until=None))


async def drain(relay: Relay, deadline: float = 20) -> None:
    worker = OutboxWorker(relay.store.outbox(), relay.deliver, interval=0.01, max_attempts=8, timeout=5)
    desk_items = relay.store.outbox()
    ends = time.monotonic() + deadline
    while any(i for i in _pending(relay) if i.startswith("desk:")):
        assert time.monotonic() < ends, f"the outbox did not drain: {desk_items.pending_count()} pending"
        await worker.run_once()
        await asyncio.sleep(0.02)


def _pending(relay: Relay) -> list[str]:
    with relay.store.db.session() as session:
        return list(session.scalars(select(OutboxItem.queue).where(OutboxItem.status == "pending")))


async def lose_the_answer(relay: Relay, slack: FakeSlack, kind: str) -> None:
    """Deliver the next ``kind`` item; Slack posts it but the answer is lost, and the worker dies."""
    item = take(relay, kind)
    slack.lose_answers("chat.postMessage")
    with pytest.raises(RetryLater):
        await relay.deliver(item)
    crash(relay)
    slack.flush_events()  # Slack's message_metadata_posted for the post has reached the relay


def thread_texts(slack: FakeSlack, card_ts: str) -> list[str]:
    return [str(reply.get("text")) for reply in slack.replies(card_ts)]


# --------------------------------------------------------------------------- a whole handoff


def test_a_handoff_with_lost_answers_posts_everything_once_and_never_reads_slack_back(
    store: CustomerStore, slack: FakeSlack, endpoint: SlackEndpoint
) -> None:
    relay = new_relay(store, slack)
    handoff_id = open_handoff(relay, "wc-posts")
    posts = SlackPosts(store)

    async def scenario() -> None:
        await lose_the_answer(relay, slack, POST_CARD)  # the card went out, nobody heard so
        await drain(relay)
        for at, text in ((201.0, "where is my order"), (202.0, "it was due monday")):
            assert relay.store.relay_customer_message("wc-posts", text, at, channel="socketio")
        await lose_the_answer(relay, slack, POST_THREAD)  # the first customer message, likewise
        await drain(relay)

    asyncio.run(scenario())
    [card] = slack.messages(CHANNEL)
    assert relay.store.get(handoff_id).card_ts == card["ts"]  # found by its key in our table
    texts = thread_texts(slack, card["ts"])
    assert len(texts) == 3 and sum("where is my order" in t for t in texts) == 1, texts
    assert sum("it was due monday" in t for t in texts) == 1

    # An agent replies in the thread: the relay's own listener relays it (it claims the
    # handoff), and the post-events middleware writes the message down: both ran.
    status, _, event = slack.post_thread_reply(endpoint.url, CHANNEL, card["ts"], "UALEX", "On it!")
    assert status == 200
    assert relay.store.get(handoff_id).claimed_by == "UALEX"
    recorded = posts.thread(CHANNEL, card["ts"])
    assert [p.author for p in recorded] == [BOT, BOT, BOT, BOT, "UALEX"]
    assert recorded[-1].ts == event["ts"] and recorded[0].ts == card["ts"]
    assert all(p.delivery_key for p in recorded[:4])

    counts = slack.call_counts()
    assert not {method: counts.get(method) for method in READ_BACK if counts.get(method)}, counts
    posted = [c for c in slack.api_calls("chat.postMessage")]
    assert len(posted) == 4  # card, how-to, two customer messages: each exactly once


def test_the_metadata_event_alone_records_a_post_idempotently(store: CustomerStore, slack: FakeSlack,
                                                              endpoint: SlackEndpoint) -> None:  # fmt: skip
    posts = SlackPosts(store)
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    metadata = {"event_type": DELIVERY_EVENT, "event_payload": {"key": "outbox:4242", "thread_ts": "1.0"}}
    slack.lose_answers("chat.postMessage")
    with pytest.raises(SlackApiError):  # the answer is lost (500); the post is there
        client.chat_postMessage(channel=CHANNEL, text="a notice", metadata=metadata)
    slack.flush_events()
    [message] = slack.all_messages()
    found = posts.find("outbox:4242")
    assert found is not None and (found.channel, found.ts, found.thread_ts) == (CHANNEL, message["ts"], "1.0")
    assert [d.status for d in slack.metadata_deliveries()] == [200]
    # Slack delivering the event twice (a retry) and our own answer both record it once.
    assert not posts.record(CHANNEL, message["ts"], key="outbox:4242")
    assert len(posts.thread(CHANNEL, "1.0")) == 1


# --------------------------------------------------------------------------- erasing


def test_erase_deletes_the_recorded_thread_without_listing_it(
    store: CustomerStore, slack: FakeSlack, endpoint: SlackEndpoint
) -> None:
    relay = new_relay(store, slack)
    handoff_id = open_handoff(relay, "wc-erase")
    asyncio.run(drain(relay))
    assert relay.store.relay_customer_message(
        "wc-erase", "my email is x@example.com", 300.0, channel="socketio"
    )
    asyncio.run(drain(relay))
    card_ts = str(relay.store.get(handoff_id).card_ts)
    slack.post_thread_reply(endpoint.url, CHANNEL, card_ts, "UALEX", "Checking now")

    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    counts = delete_threads(client, [(CHANNEL, card_ts)], SlackPosts(store))
    assert counts == {"slack_messages": 3, "slack_messages_kept": 1}  # card, how-to, message; Alex's stays
    assert [m["text"] for m in slack.all_messages()] == ["Checking now"]
    assert not any(slack.api_calls(method) for method in READ_BACK)


def test_erase_lists_a_card_the_record_does_not_know(store: CustomerStore, slack: FakeSlack) -> None:
    """A card posted before the relay kept its record: listed once with conversations.replies."""
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    card = client.chat_postMessage(channel=CHANNEL, text="old card")["ts"]
    client.chat_postMessage(channel=CHANNEL, text="old reply", thread_ts=card)
    counts = delete_threads(client, [(CHANNEL, card)], SlackPosts(store))
    assert counts == {"slack_messages": 2, "slack_messages_kept": 0} and slack.all_messages() == []
    assert len(slack.api_calls("conversations.replies")) == 1


# --------------------------------------------------------------------------- attacks


def forged(slack: FakeSlack, key: str, ts: str, **override: Any) -> dict[str, Any]:
    """A ``message_metadata_posted`` event for a post carrying our delivery type and ``key``."""
    event = {
        "type": "message_metadata_posted", "app_id": slack.api_app_id, "bot_id": slack.bot_id,
        "user_id": slack.bot_user_id, "team_id": slack.team_id, "channel_id": CHANNEL,
        "metadata": {"event_type": DELIVERY_EVENT, "event_payload": {"key": key}},
        "message_ts": ts, "event_ts": ts,
    }  # fmt: skip
    return {**event, **override}


def test_metadata_events_not_from_our_own_app_mark_nothing_delivered(
    store: CustomerStore, slack: FakeSlack, endpoint: SlackEndpoint
) -> None:
    """Threat: another app in the workspace (our subscription is for any app id) posts a message
    carrying our metadata type and the key of a card not yet posted, so the outbox takes the card
    as delivered and the customer is never seen. Also: a key we never posted, another workspace."""
    relay = new_relay(store, slack)
    handoff_id = open_handoff(relay, "wc-forged")
    key = take(relay, POST_CARD).key
    crash(relay)  # the card's item is in doubt: the next attempt looks for its key first
    posts = SlackPosts(store)
    attempts = [
        forged(slack, key, slack.new_ts(), app_id="A0EVIL", bot_id="B0EVIL", user_id="U0EVIL"),
        forged(slack, key, slack.new_ts(), bot_id="B0EVIL"),  # our app id claimed, another bot
        forged(slack, key, slack.new_ts(), user_id="U0EVIL"),  # our bot id, another user
        forged(slack, "outbox:999999", slack.new_ts(), app_id="A0EVIL", bot_id="B0EVIL"),  # never posted
    ]
    for event in attempts:
        assert slack.send_event(endpoint.url, event)[0] == 200  # acknowledged, so Slack does not retry
    assert slack.send_event(endpoint.url, forged(slack, key, slack.new_ts()), team_id="T0EVIL")[0] == 200
    assert posts.find(key) is None and posts.find("outbox:999999") is None
    assert asyncio.run(relay.desk.find_delivery(key, None)) is None

    asyncio.run(drain(relay))
    [card] = slack.messages(CHANNEL)  # posted: nothing was taken as delivered
    assert relay.store.get(handoff_id).card_ts == card["ts"]
    assert posts.find(key) == posts.get(CHANNEL, card["ts"])


def test_a_stranger_in_the_thread_is_recorded_for_erasing_but_not_in_other_threads(
    store: CustomerStore, slack: FakeSlack, endpoint: SlackEndpoint
) -> None:
    """Whoever writes in a card's thread is written down (erase must know it); a thread that is
    not one of our posts' is not ours to record, and a forged id in the event changes nothing."""
    relay = new_relay(store, slack)
    handoff_id = open_handoff(relay, "wc-stranger")
    asyncio.run(drain(relay))
    card_ts = str(relay.store.get(handoff_id).card_ts)
    slack.add_user("UNOBODY", "No Body", guest="single")  # may not act on cards
    slack.post_thread_reply(endpoint.url, CHANNEL, card_ts, "UNOBODY", "<!channel> hello")
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    other = client.chat_postMessage(channel=CHANNEL, text="not a card")["ts"]  # no key, not recorded
    slack.post_thread_reply(endpoint.url, CHANNEL, other, "UALEX", "elsewhere")
    posts = SlackPosts(store)
    assert [p.author for p in posts.thread(CHANNEL, card_ts)] == [BOT, BOT, "UNOBODY"]
    assert posts.thread(CHANNEL, other) == []
    assert relay.store.get(handoff_id).claimed_by is None  # the stranger was refused as before


# --------------------------------------------------------------------------- the parts


def test_the_desk_without_a_record_posts_again_rather_than_reading_slack(
    store: CustomerStore, slack: FakeSlack
) -> None:
    plain = SlackDesk(AsyncWebClient(token=slack.bot_token, base_url=slack.api_url), CHANNEL)
    assert asyncio.run(plain.find_delivery("outbox:1", CardRef(CHANNEL, "1.0"))) is None
    assert slack.api_calls() == []


def test_the_pacer_allows_a_burst_then_spaces_posts_and_keeps_a_reserved_slot() -> None:
    now = [100.0]
    pacer = ChannelPacer(rate=2, burst=3, max_wait=0.2, clock=lambda: now[0])
    assert [pacer.slot("C1", f"k{i}") for i in range(3)] == [0, 0, 0]
    assert pacer.slot("C1", "k3") == pytest.approx(0.5)
    assert pacer.slot("C1", "k4") == pytest.approx(1.0)
    assert pacer.slot("C1", "k3") == pytest.approx(0.5)  # asked again: the same place in line
    assert pacer.slot("C2", "other") == 0  # channels are independent
    now[0] += 0.5
    assert pacer.slot("C1", "k3") == 0
    pacer.done("C1", "k3")
    pacer.hold("C1", 3)  # Slack said 429, Retry-After 3: everyone waits, and no burst after
    assert pacer.slot("C1", "k4") == pytest.approx(3.0)
    assert pacer.slot("C1", "k5") == pytest.approx(3.5)


def test_a_429_halves_the_channels_burst_so_a_stall_does_not_meet_another() -> None:
    now = [100.0]
    pacer = ChannelPacer(rate=10, burst=7, max_wait=0.2, clock=lambda: now[0])
    pacer.hold("C1", 1)
    pacer.hold("C1", 1)  # a second 429 of the same burst: the same episode, halved once
    assert pacer.burst_of("C1") == 3 and pacer.burst_of("C2") == 7
    now[0] += 60  # the channel was idle (or the process stalled): only the learnt burst at once
    assert [pacer.slot("C1", f"k{i}") for i in range(4)] == [0, 0, 0, pytest.approx(0.1)]
    pacer.hold("C1", 1)
    assert pacer.burst_of("C1") == 1
    pacer.hold("C1", 1)
    now[0] += 2
    pacer.hold("C1", 1)
    assert pacer.burst_of("C1") == 1  # never below one post at a time


def test_the_fake_limits_posts_per_channel_and_says_when_to_come_back(slack: FakeSlack) -> None:
    slack.limit_rate(per_second=2, burst=2)
    client = WebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])
    statuses = []
    for channel in (CHANNEL, CHANNEL, CHANNEL, "C0OTHER"):
        try:
            statuses.append(client.chat_postMessage(channel=channel, text="x").status_code)
        except SlackApiError as exc:
            response = exc.response
            statuses.append(response.status_code)
            assert response.headers.get("Retry-After") == "1" and response["error"] == "ratelimited"
    assert statuses == [200, 200, 429, 200]
    assert [(c, r) for c, _at, r in slack.rate_limited()] == [(CHANNEL, 1)]
    assert slack.call_counts() == {"chat.postMessage": 4} and len(slack.post_attempts(CHANNEL)) == 3
    assert json.dumps(slack.messages(CHANNEL))  # two posts kept, the refused one not
    assert len(slack.messages(CHANNEL)) == 2
