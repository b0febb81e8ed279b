"""X events are answered exactly once, end to end: real Rasa, action server and worker; X is a fake.

- a turn cut short (Rasa killed while it waits on the action server) leaves the event
  unseen; the poller offers it again once Rasa is back and the customer gets one answer;
- more than 100 mentions arriving between two polls are all read (pages) and answered;
- an X endpoint that stalls times out (``X_TIMEOUT``) and the next poll carries on.
"""

from __future__ import annotations

from bot.processes import BotProcesses
from tests.fakes.x import FakeX
from tests.support.x import (
    dms_to,
    freeze,
    replies_to,
    requests_waiting_at,
    tracker_texts,
    undelivered,
    wait_dm,
    x_store,
)


def test_a_hanging_x_endpoint_times_out_and_the_poller_recovers(
    x_polling_bot: BotProcesses, fake_x: FakeX
) -> None:
    x = fake_x
    customer = "1400000000000000603"
    x.add_user(customer, "stalled_sid", "Stalled Sid")
    x.hang("dm_events", seconds=120)
    x.wait_for(lambda: any(call.status == 0 for call in x.api_calls("dm_events")), timeout=30)
    x.add_dm(customer, "do you ship internationally?")
    # X_TIMEOUT=3 (tests/support/x.py): answered long before the 120 s stall would have ended.
    assert wait_dm(x, customer, "ship", timeout=45)


def test_more_than_100_mentions_between_two_polls_are_all_answered(
    x_polling_bot: BotProcesses, fake_x: FakeX
) -> None:
    bot, x = x_polling_bot, fake_x
    customer = "1400000000000000602"
    x.add_user(customer, "busy_bea", "Busy Bea")
    bot.stop_one("worker")  # no poll while they arrive: the next one finds all of them
    tweets = [x.add_mention(customer, f"@hearthlink what are your support hours? #{n}") for n in range(105)]
    bot.restart("worker")
    x.wait_for(lambda: all(replies_to(x, tweet["id"]) for tweet in tweets), timeout=600, interval=1)
    assert any("pagination_token" in call.params for call in x.api_calls("mentions"))
    for tweet in tweets:
        texts = [reply["text"] for reply in replies_to(x, tweet["id"])]
        assert len(texts) == len(set(texts)), texts  # each part once


def test_a_turn_cut_short_by_a_crash_is_retried_and_answered_exactly_once(
    x_polling_bot: BotProcesses, fake_x: FakeX
) -> None:
    bot, x = x_polling_bot, fake_x
    customer = "1400000000000000601"
    x.add_user(customer, "crash_carla", "Crash Carla")
    store = x_store(bot)
    actions_port = int(bot.actions_url.rsplit(":", 1)[1])
    rasa = bot.started["rasa"].process
    assert rasa is not None
    freeze(bot, "actions")  # Rasa's turn will wait on it
    try:
        dm = x.add_dm(customer, "what are your support hours?")
        x.wait_for(lambda: requests_waiting_at(actions_port) > 0, timeout=60)  # mid-turn
        rasa.kill()  # a crash: no tracker saved, nothing recorded
        rasa.wait()
    finally:
        freeze(bot, "actions", frozen=False)
    assert not store.seen(f"dm:{dm['id']}")  # the event was not lost as "seen"
    bot.restart("rasa")
    x.wait_for(lambda: store.seen(f"dm:{dm['id']}"), timeout=180, interval=0.5)
    x.wait_for(lambda: int(store.cursor("dm") or 0) >= int(dm["id"]), timeout=30)
    x.wait_for(lambda: undelivered(bot, customer) == 0, timeout=30)
    texts = dms_to(x, customer)
    assert len(texts) == 1 and "support team is available" in texts[0], texts
    assert tracker_texts(bot, customer) == ["what are your support hours?"]
