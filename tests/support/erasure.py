"""The whole bot with its desk in the fake Slack, on SQLite (embedded) or PostgreSQL (production stores).

For tests/security/test_erasure.py. ``postgresql``: our tables *and* Rasa's tracker store in
one fresh PostgreSQL database, as in production (the SQL event broker stays a SQLite file:
production's RabbitMQ keeps nothing once read). ``sqlite``: the embedded default
(customers.db, tracker.db, broker.db in the data directory).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.customers import CustomerStore
from bot.customers.demo import load_demo_data
from bot.migrations import upgrade
from tests.fakes.slack import FakeSlack
from tests.support import ROOT
from tests.support.bot import whole_bot
from tests.support.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, fresh_postgres_database

CHANNEL = "C0HANDOFF"


@dataclass
class ErasureRig:
    bot: Any
    slack: FakeSlack
    data: Path
    endpoints: Path
    database_url: str
    tracker_url: str
    broker_url: str
    env: dict[str, str]

    @property
    def events_url(self) -> str:
        return f"{self.bot.relay_url}/slack/events"

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``python -m bot <args>`` as an operator runs it, with the servers' settings."""
        env = {**os.environ, **self.env, "SUPPORTBOT_DATA_DIR": str(self.data)}
        return subprocess.run(
            [sys.executable, "-m", "bot", *args, "--endpoints", str(self.endpoints)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip


@contextmanager
def erasure_bot(model: Path, data: Path, dialect: str) -> Iterator[ErasureRig]:
    with ExitStack() as stack:
        slack = stack.enter_context(FakeSlack())
        slack.add_channel(CHANNEL, "support-handoffs")
        slack.add_user("UALEX", "Alex Morgan", "Alex")
        endpoints = data / "endpoints-under-test.yml"
        config = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
        if dialect == "postgresql":
            database = stack.enter_context(fresh_postgres_database())
            upgrade(database)
            load_demo_data(CustomerStore(database))
            config["tracker_store"] = {
                "type": "SQL", "dialect": "postgresql", "url": POSTGRES_HOST, "port": POSTGRES_PORT,
                "username": POSTGRES_USER, "db": database.rsplit("/", 1)[-1],
            }  # fmt: skip
            tracker = database
        else:
            database = f"sqlite:///{data / 'customers.db'}"
            tracker = f"sqlite:///{data / 'tracker.db'}"
        endpoints.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        env = {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_HANDOFF_CHANNEL": CHANNEL,
            "SLACK_API_URL": slack.api_url,
            "SUPPORTBOT_DATABASE_URL": database,
        }
        bot = stack.enter_context(whole_bot(model, data, env, endpoints=endpoints))
        yield ErasureRig(
            bot, slack, data, endpoints, database, tracker, f"sqlite:///{data / 'broker.db'}", env
        )
