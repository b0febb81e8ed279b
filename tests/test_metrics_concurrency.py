"""Counting stays exact when events are handled at the same time.

A restarted metrics consumer receives its whole RabbitMQ backlog at once. The counters
used to be read, incremented in Python and written back, so two events counted at the
same moment left the counter one short (the production-replicas test lost one of four
customer messages that way). These tests hammer the real databases from several threads.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from bot.customers import CustomerStore
from bot.metrics import MetricsStore

EVENTS = 60
THREADS = 8


def user_event(number: int, start: float) -> dict[str, object]:
    return {
        "event": "user",
        "text": f"message {number}",
        "timestamp": start + number,
        "input_channel": "rest",
    }


def test_events_counted_at_the_same_time_are_each_counted_once(store: CustomerStore) -> None:
    metrics = MetricsStore(store)
    start = time.time()
    events = [user_event(n, start) for n in range(EVENTS)]
    with ThreadPoolExecutor(THREADS) as pool:
        recorded = list(pool.map(lambda event: metrics.record("conversation-1", event), events))
    assert sum(recorded) == EVENTS
    assert metrics.totals()[("customer_messages", "rest")] == EVENTS


def test_one_event_delivered_to_several_consumers_at_once_is_counted_once(store: CustomerStore) -> None:
    metrics = MetricsStore(store)
    event = user_event(1, time.time())
    with ThreadPoolExecutor(THREADS) as pool:
        recorded = list(pool.map(lambda _: metrics.record("conversation-2", event), range(THREADS * 2)))
    assert recorded.count(True) == 1
    assert metrics.totals()[("customer_messages", "rest")] == 1
