"""An X delivery in doubt (an earlier attempt may have reached X) is not sent twice.

Real tweepy client against the fake X over HTTP; the outbox item is built as the outbox
hands it over after a crash (``claims=1``: a delivery was started and never recorded).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from bot.channels.x_api import make_client
from bot.channels.x_worker import SEND_DM, SEND_TWEET, XDelivery
from bot.outbox import GiveUp, OutboxRecord
from tests.fakes.x import FakeX
from tests.support.x import fake_x_settings

CUSTOMER = "1400000000000000001"


@pytest.fixture
def x() -> Iterator[FakeX]:
    with FakeX() as fake:
        fake.add_user(CUSTOMER, "maria_lopez", "Maria Lopez")
        yield fake


def delivery(x: FakeX) -> XDelivery:
    return XDelivery(make_client(fake_x_settings(x, timeout=5.0)))


def item(kind: str, payload: dict, *, in_doubt: bool, queued: datetime | None = None) -> OutboxRecord:
    queued = queued or datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=5)
    return OutboxRecord(1, f"customer:x:{CUSTOMER}", kind, payload, 0, 1 if in_doubt else 0, queued)


def test_a_dm_that_reached_x_before_a_crash_is_not_sent_again(x: FakeX) -> None:
    send = delivery(x)
    dm = {"user_id": CUSTOMER, "text": "Your order HL-104233 ships tomorrow."}
    asyncio.run(send(item(SEND_DM, dm, in_doubt=False)))  # the attempt that got through
    asyncio.run(send(item(SEND_DM, dm, in_doubt=True)))  # retried after the crash
    assert [m["text"] for m in x.sent_dms(CUSTOMER)] == [dm["text"]]


def test_a_dm_in_doubt_that_never_reached_x_is_sent(x: FakeX) -> None:
    send = delivery(x)
    earlier = {"user_id": CUSTOMER, "text": "Thanks for waiting!"}
    asyncio.run(send(item(SEND_DM, earlier, in_doubt=False)))
    # the same words, queued later: the earlier DM is older than this item, so it is not this one
    later = item(
        SEND_DM,
        earlier,
        in_doubt=True,
        queued=datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(minutes=5),
    )
    asyncio.run(send(later))
    other = {"user_id": CUSTOMER, "text": "A different answer."}
    asyncio.run(send(item(SEND_DM, other, in_doubt=True)))
    assert [m["text"] for m in x.sent_dms(CUSTOMER)] == [earlier["text"], earlier["text"], other["text"]]


def test_a_reply_tweet_in_doubt_is_not_posted_twice_and_a_real_duplicate_still_fails(x: FakeX) -> None:
    send = delivery(x)
    mention = x.add_mention(CUSTOMER, "where is my order?")
    reply = {"text": "We've sent you a DM.", "in_reply_to": mention["id"]}
    asyncio.run(send(item(SEND_TWEET, reply, in_doubt=False)))
    asyncio.run(send(item(SEND_TWEET, reply, in_doubt=True)))  # X says duplicate: it got there before
    assert [t["text"] for t in x.posted_tweets()] == [reply["text"]]
    with pytest.raises(GiveUp, match="duplicate"):  # not in doubt: a duplicate is a real refusal
        asyncio.run(send(item(SEND_TWEET, reply, in_doubt=False)))
