"""Two Rasa replicas queueing on one conversation's lock in the real Redis (bot/lock_store.py).

Each "replica" is a thread with its own event loop and its own lock store, as two Rasa
processes would be. Rasa's own RedisLockStore loses tickets in this race (a dropped
customer message, LockError); ours must serve every turn, one at a time, in full.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import redis
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.lock_store import AtomicRedisLockStore
from tests.support.services import require_service

REDIS_DB = 5  # a database of its own, flushed by nobody else


def store() -> AtomicRedisLockStore:
    config = EndpointConfig(
        url="127.0.0.1", type="bot.lock_store.AtomicRedisLockStore", port=6379, db=REDIS_DB
    )
    created = LockStore.create(config)  # the way Rasa builds it from endpoints.yml
    assert isinstance(created, AtomicRedisLockStore)
    return created


def test_two_replicas_never_hold_a_conversation_lock_together_and_never_lose_a_turn() -> None:
    require_service("Redis", "127.0.0.1", 6379)
    conversation = f"lock-race-{uuid.uuid4().hex[:8]}"
    turns_per_replica = 150
    inside: list[str] = []
    overlaps: list[str] = []
    served: list[str] = []
    failures: list[BaseException] = []
    guard = threading.Lock()

    async def replica(name: str) -> None:
        lock_store = store()
        for turn in range(turns_per_replica):
            async with lock_store.lock(conversation, wait_time_in_seconds=0.001):
                with guard:
                    if inside:
                        overlaps.append(f"{name} entered while {inside[0]} held the lock")
                    inside.append(name)
                await asyncio.sleep(0)  # hand the loop over while holding the lock
                with guard:
                    inside.remove(name)
                    served.append(f"{name}-{turn}")

    def run(name: str) -> None:
        try:
            asyncio.run(replica(name))
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(f"rasa-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not failures, failures
    assert not overlaps, overlaps[:3]
    assert len(served) == 2 * turns_per_replica
    # Nothing is left behind to block the next message of this conversation.
    leftover = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).get(store().key_prefix + conversation)
    assert leftover is None


def test_a_conversation_named_like_another_ones_internal_key_cannot_block_or_corrupt_it() -> None:
    """The attack on the old mutex key ``lock:<id>:mutex``: open conversation ``<id>:mutex``.

    Its lock lived at the very key the store used as ``<id>``'s mutex, so while the attacker's
    turn was running, nobody could update ``<id>``'s lock (LockError after 5 s: the victim's
    messages dropped) and ``<id>``'s updates overwrote the attacker's lock. Now there is one key
    per conversation and nothing else: both conversations are served at once, untouched.
    """
    require_service("Redis", "127.0.0.1", 6379)
    victim = f"victim-{uuid.uuid4().hex[:8]}"
    attacker = f"{victim}:mutex"
    red = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)

    async def scenario() -> None:
        lock_store = store()
        async with lock_store.lock(attacker, wait_time_in_seconds=0.01):
            held = red.get(lock_store.key_prefix + attacker)
            loop = asyncio.get_running_loop()
            started = loop.time()
            for _ in range(3):  # the victim's turns go through while the attacker's turn runs
                async with lock_store.lock(victim, wait_time_in_seconds=0.01) as ticket_lock:
                    assert ticket_lock.conversation_id == victim
            assert loop.time() - started < 2.0  # no mutex wait (the old store gave up after 5 s)
            assert red.get(lock_store.key_prefix + attacker) == held  # the attacker's lock unchanged
            assert lock_store.get_lock(attacker).is_someone_waiting()
        assert red.get(lock_store.key_prefix + attacker) is None
        assert red.get(lock_store.key_prefix + victim) is None
        assert red.keys(f"{lock_store.key_prefix}{victim}*") == []  # no side keys of any kind

    asyncio.run(scenario())


def test_the_lock_is_the_json_rasa_reads_and_expired_tickets_are_dropped_atomically() -> None:
    require_service("Redis", "127.0.0.1", 6379)
    conversation = f"format-{uuid.uuid4().hex[:8]}"
    lock_store = store()
    first = lock_store.issue_ticket(conversation, lock_lifetime=0.05)
    second = lock_store.issue_ticket(conversation, lock_lifetime=60)
    assert (first, second) == (0, 1)
    lock = lock_store.get_lock(conversation)  # Rasa's own TicketLock parser
    assert lock is not None and lock.conversation_id == conversation
    assert [t.number for t in lock.tickets] == [0, 1]
    deadline = time.monotonic() + 5
    while lock_store.get_lock(conversation).now_serving != second:  # the first ticket expires
        assert time.monotonic() < deadline
        time.sleep(0.01)
    lock_store.update_lock(conversation)
    assert [t.number for t in lock_store.get_lock(conversation).tickets] == [1]
    assert lock_store.issue_ticket(conversation) == 2
    lock_store.cleanup(conversation, 1)
    assert lock_store.is_someone_waiting(conversation)  # ticket 2 still queued
    lock_store.cleanup(conversation, 2)
    assert lock_store.get_lock(conversation) is None
