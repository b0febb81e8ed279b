"""Two Rasa replicas queueing on one conversation's lock in the real Redis (bot/lock_store.py).

Each "replica" is a thread with its own event loop and its own lock store, as two Rasa
processes would be. Rasa's own RedisLockStore loses tickets in this race (a dropped
customer message, LockError); ours must serve every turn, one at a time, in full.
"""

from __future__ import annotations

import asyncio
import threading
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
