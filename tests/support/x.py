"""The whole bot with the X channel pointed at a fake X, and what X tests look at afterwards."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.channels.x_api import XSettings
from bot.channels.x_store import XStore
from bot.db import Database
from bot.processes import BotProcesses
from tests.fakes.x import FakeX
from tests.support.bot import NO_SLACK, whole_bot

MARIA = "1400000000000000001"  # the demo customer's X account (bot/customers/demo_customers.yml)


def x_env(x: FakeX) -> dict[str, str]:
    """The X_* settings that point the channel's real tweepy client at the fake."""
    credentials = x.credentials
    return {
        "X_CONSUMER_KEY": credentials["consumer_key"],
        "X_CONSUMER_SECRET": credentials["consumer_secret"],
        "X_ACCESS_TOKEN": credentials["access_token"],
        "X_ACCESS_TOKEN_SECRET": credentials["access_token_secret"],
        "X_API_URL": x.base_url,
    }


def fake_x_settings(x: FakeX, **overrides: Any) -> XSettings:
    """The same keys as :func:`x_env`, as the settings object a test builds a client or poller from."""
    credentials = x.credentials
    return XSettings(
        consumer_key=credentials["consumer_key"],
        consumer_secret=credentials["consumer_secret"],
        access_token=credentials["access_token"],
        access_token_secret=credentials["access_token_secret"],
        api_url=x.base_url,
        **{"poll_interval": 0.2, **overrides},
    )


@contextmanager
def x_bot(model: Path, x: FakeX, data: Path, mode: str, **env: str) -> Iterator[BotProcesses]:
    """The real action server, Rasa and worker, X in ``mode`` against the fake ``x``.

    Polling: returns once the poller's first run has marked where "now" is (it answers
    what arrives from then on), so a test's first message is never taken for history.
    """
    settings = {**x_env(x), "X_MODE": mode, "X_POLL_INTERVAL": "0.5", "X_TIMEOUT": "3", **NO_SLACK, **env}
    with whole_bot(model, data, settings) as processes:
        if mode == "polling":
            x.wait_for(lambda: x.api_calls("dm_events"), timeout=60)
            x.wait_for(lambda: XStore(database(processes)).cursor("dm") is not None, timeout=30)
        yield processes


def database(bot: BotProcesses) -> Database:
    """The bot's own database (customers, outbox, X's seen events and cursors)."""
    return Database(bot.env["SUPPORTBOT_DATABASE_URL"])


def x_store(bot: BotProcesses) -> XStore:
    return XStore(database(bot))


def webhook_url(bot: BotProcesses) -> str:
    return f"{bot.rasa_url}/webhooks/twitter/webhook"


def dms_to(x: FakeX, user_id: str) -> list[str]:
    return [dm["text"] for dm in x.sent_dms(user_id)]


def wait_dm(x: FakeX, user_id: str, fragment: str, timeout: float = 30) -> str:
    return x.wait_for(lambda: next((t for t in dms_to(x, user_id) if fragment in t), None), timeout=timeout)


def replies_to(x: FakeX, tweet_id: str) -> list[dict[str, Any]]:
    return [t for t in x.posted_tweets() if t.get("in_reply_to") == tweet_id]


def tracker_texts(bot: BotProcesses, sender_id: str) -> list[str]:
    """The user messages Rasa recorded for ``sender_id`` (its SQLite tracker store)."""
    import json
    import sqlite3

    path = Path(bot.env["SUPPORTBOT_DATA_DIR"]) / "tracker.db"
    if not path.exists():
        return []
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (sender_id,)
        ).fetchall()
    return [str(json.loads(data).get("text")) for (data,) in rows]


def freeze(bot: BotProcesses, name: str, frozen: bool = True) -> None:
    """SIGSTOP (or SIGCONT) a server and its children: it keeps its port but answers nothing."""
    process = bot.started[name].process
    assert process is not None
    pids = [process.pid, *_descendants(process.pid)]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP if frozen else signal.SIGCONT)


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for child in children:
            found += [int(child), *_descendants(int(child))]
    return found


def requests_waiting_at(port: int) -> int:
    """Connections to ``127.0.0.1:port`` whose request bytes the server has not read yet.

    Read from /proc/net/tcp (the receive queue of the server's side): how a test sees that
    Rasa is in the middle of a turn, waiting on a frozen action server.
    """
    waiting = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, queues = fields[1], fields[3], fields[4]
        if int(local.split(":")[1], 16) == port and state == "01" and int(queues.split(":")[1], 16) > 0:
            waiting += 1
    return waiting


def undelivered(bot: BotProcesses, user_id: str) -> int:
    """DMs to ``user_id`` still waiting in the bot's outbox."""
    from bot.outbox import OutboxItem

    with database(bot).session() as session:
        return (
            session.query(OutboxItem)
            .filter(OutboxItem.queue == f"x:dm:{user_id}", OutboxItem.delivered_at.is_(None))
            .count()
        )
