"""Redis with a password: the lock store and the web chat's rooms use it, strangers cannot.

Why it matters: python-socketio < 5.10 (Rasa 3.6's pin) unpickles what Redis hands it, so
anyone who can write to the web chat's Redis can run code in the replicas. A real
``redis-server`` with ``--requirepass`` on a free port stands in for compose's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from rasa.core.lock_store import LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.lock_store import AtomicRedisLockStore
from bot.processes import free_port
from bot.production_stores import production_env

PASSWORD = "a-redis-password/with+characters&a-url-must-quote"


@pytest.fixture(scope="module")
def guarded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("redis-server is not installed; CI=true requires it")
        pytest.skip("redis-server is not installed")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD,
         "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while True:
        try:
            redis.Redis(port=port, password=PASSWORD).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.1)
    yield port
    server.terminate()
    server.wait(10)


def lock_store(port: int, password: str | None) -> AtomicRedisLockStore:
    config = EndpointConfig(
        url="127.0.0.1", type="bot.lock_store.AtomicRedisLockStore", port=port, db=1, password=password
    )
    created = LockStore.create(config)  # as Rasa builds it from endpoints.production.yml
    assert isinstance(created, AtomicRedisLockStore)
    return created


def test_a_stranger_without_the_password_can_neither_read_nor_write(guarded_redis: int) -> None:
    stranger = redis.Redis(port=guarded_redis)
    with pytest.raises(redis.AuthenticationError):
        stranger.set("socketio", b"\x80\x04 a pickle")
    with pytest.raises(redis.AuthenticationError):
        stranger.keys("*")
    with pytest.raises(LockError):  # the lock store without it: Rasa's error, no ticket
        lock_store(guarded_redis, None).issue_ticket("maria")


def test_the_lock_store_with_the_password_works(guarded_redis: int) -> None:
    store = lock_store(guarded_redis, PASSWORD)
    ticket = store.issue_ticket("maria")
    assert store.get_or_create_lock("maria").is_someone_waiting() or ticket >= 0
    store.cleanup("maria", ticket)


def test_the_web_chat_url_carries_the_password_quoted(guarded_redis: int) -> None:
    env = production_env(
        {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(guarded_redis), "REDIS_PASSWORD": PASSWORD}
    )
    url = env["WEBCHAT_REDIS_URL"]
    assert PASSWORD not in url  # quoted, so "/", "+" and "&" cannot break the URL
    client = redis.Redis.from_url(url)
    client.set("room-check", "ok")
    assert client.get("room-check") == b"ok"
    assert production_env({})["WEBCHAT_REDIS_URL"] == "redis://127.0.0.1:6379/2"  # local Redis: none
