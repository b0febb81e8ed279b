"""The weekly digest job: posted once a week to Slack (the fake, over real HTTP) or to the inbox.

Two jobs at once stand for two workers, a new one for a restart; the outbox emptied by the
pruner stands for a restart a week later. Each time the week's digest is in Slack once.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from aiohttp import web
from sqlalchemy import create_engine, text

from bot.experience.demo import generate
from bot.experience.digest import DigestSettings
from bot.experience.digest_job import QUEUE, Destination, DigestJob, mount_digest
from bot.handoff.settings import SlackSettings
from tests.fakes.slack import FakeSlack
from tests.support import ROOT
from tests.support.bot import NO_SLACK

SHIPPED = ROOT / "business.yml"
MONDAY = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # 10:00 in London: the digest's moment (09:00) has come
DIGEST_CHANNEL = "C0DIGEST"


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite_file: Path) -> Path:
    """Three weeks of demo conversations up to Monday morning, in SQLite files (copied per test)."""
    folder = tmp_path_factory.mktemp("digest-month")
    shutil.copyfile(migrated_sqlite_file, folder / "customers.db")
    generate(
        database_url=f"sqlite:///{folder / 'customers.db'}", tracker_url=f"sqlite:///{folder / 'tracker.db'}",
        seed=5, days=21, conversations=400, now=MONDAY.timestamp(), business_path=SHIPPED,
        progress=lambda _line: None,
    )  # fmt: skip
    return folder


@pytest.fixture
def stores(month: Path, tmp_path: Path) -> Path:
    for name in ("customers.db", "tracker.db"):
        shutil.copyfile(month / name, tmp_path / name)
    (tmp_path / "endpoints.yml").write_text(
        f'tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: "{tmp_path / "tracker.db"}"\n',
        encoding="utf-8",
    )
    return tmp_path


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def database(folder: Path) -> str:
    return f"sqlite:///{folder / 'customers.db'}"


def job(folder: Path, destination: Destination, clock: datetime = MONDAY) -> DigestJob:
    return DigestJob(
        DigestSettings(slack_channel=DIGEST_CHANNEL), "Europe/London", destination, folder / "endpoints.yml",
        folder, business_path=SHIPPED, clock=lambda: clock, interval=0.05, poll=0.05,
    )  # fmt: skip


async def run_for(jobs: list[DigestJob], until: Any, timeout: float = 60.0, settle: float = 1.0) -> None:
    """Run the jobs side by side until ``until()`` holds (then ``settle`` s more), or fail at ``timeout``."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(j.run(stop)) for j in jobs]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not until():
        assert loop.time() < deadline, "the digest did not arrive"
        await asyncio.sleep(0.05)
    await asyncio.sleep(settle)
    stop.set()
    await asyncio.gather(*tasks)


def rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = list(connection.execute(text(sql)))
    engine.dispose()
    return found


def slack_destination(folder: Path, fake: FakeSlack) -> Destination:
    settings = SlackSettings(
        bot_token=fake.bot_token,
        signing_secret=fake.signing_secret,
        channel="C0HANDOFF",
        api_url=fake.api_url,
    )
    return Destination(database(folder), settings, DIGEST_CHANNEL)


def test_the_weekly_digest_is_posted_once_by_two_workers_and_after_restarts(
    stores: Path, slack: FakeSlack
) -> None:
    destination = slack_destination(stores, slack)

    def posted() -> list[dict[str, Any]]:
        return slack.messages(DIGEST_CHANNEL)

    asyncio.run(run_for([job(stores, destination), job(stores, destination)], lambda: bool(posted())))
    [digest] = posted()
    assert digest["text"].startswith("*Hearthlink support digest: 23 Nov – 29 Nov 2026*")
    assert "*What moved most*" in digest["text"] and "*Why people were needed*" in digest["text"]
    assert digest["metadata"]["event_payload"] == {"key": "digest:2026-W49"}
    assert digest["unfurl_links"] is False and not slack.messages("C0HANDOFF")
    assert rows(database(stores), f"SELECT status FROM outbox WHERE queue = '{QUEUE}'") == [("delivered",)]

    asyncio.run(run_for([job(stores, destination)], lambda: True, settle=1.5))  # a restart the same week
    assert len(posted()) == 1
    engine = create_engine(database(stores))
    with engine.begin() as connection:  # the pruner removed the delivered item; the worker restarts
        connection.execute(text("DELETE FROM outbox"))
    engine.dispose()
    queued = rows(database(stores), "SELECT COUNT(*) FROM outbox")
    asyncio.run(
        run_for([job(stores, destination)], lambda: bool(rows(database(stores), "SELECT 1 FROM outbox")))
    )
    assert queued == [(0,)] and len(posted()) == 1  # queued again, found in Slack, not posted twice


def test_nothing_is_queued_before_the_moment(stores: Path, slack: FakeSlack) -> None:
    early = job(stores, slack_destination(stores, slack), clock=datetime(2026, 11, 30, 8, 59, tzinfo=UTC))
    assert early.schedule() is False
    assert rows(database(stores), "SELECT COUNT(*) FROM outbox") == [(0,)]


def test_without_slack_the_digest_goes_to_the_inbox_once(stores: Path) -> None:
    destination = Destination(database(stores), None)

    def digests() -> list[Any]:
        return rows(database(stores), "SELECT text, delivery_key FROM desk_messages WHERE author = 'digest'")

    asyncio.run(run_for([job(stores, destination), job(stores, destination)], lambda: bool(digests())))
    asyncio.run(run_for([job(stores, destination)], lambda: True))
    [(body, key)] = digests()
    assert key == "digest:2026-W49"
    assert (
        body.startswith("Hearthlink support digest: 23 Nov – 29 Nov 2026") and "*" not in body.splitlines()[0]
    )


def test_the_worker_mounts_the_job_only_when_business_yml_wants_it(
    stores: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = SimpleNamespace(endpoints_file=stores / "endpoints.yml", database_url=database(stores),
                               relay=SimpleNamespace(slack=None))  # fmt: skip
    document = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    for enabled in (True, False):
        document["digest"]["enabled"] = enabled
        business = tmp_path / f"business-{enabled}.yml"
        business.write_text(yaml.safe_dump(document), encoding="utf-8")
        monkeypatch.setenv("SUPPORTBOT_BUSINESS_FILE", str(business))
        app = web.Application()
        mounted = mount_digest(app, settings)  # type: ignore[arg-type]
        assert (mounted is not None) is enabled
        assert len(app.cleanup_ctx) == int(enabled)
    document["digest"]["weekday"] = "someday"
    business.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert mount_digest(web.Application(), settings) is None  # type: ignore[arg-type]  # logged, worker runs on


def test_the_command_prints_the_digest(stores: Path) -> None:
    env = {**os.environ, "SUPPORTBOT_DATABASE_URL": database(stores), "SUPPORTBOT_DATA_DIR": str(stores)}
    env.pop("SUPPORTBOT_ENVIRONMENT", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "digest", "--days", "7", "--endpoints", str(stores / "endpoints.yml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "support digest:" in done.stdout and "What moved most" in done.stdout
    assert rows(database(stores), "SELECT COUNT(*) FROM desk_messages") == [(0,)]  # printed, not posted

    sent = subprocess.run(
        [sys.executable, "-m", "bot", "digest", "--send", "--endpoints", str(stores / "endpoints.yml")],
        cwd=ROOT, env={**env, **NO_SLACK}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert sent.returncode == 0 and "posted to the agent inbox" in sent.stdout, sent.stderr
    [(key,)] = rows(database(stores), "SELECT delivery_key FROM desk_messages WHERE author = 'digest'")
    assert key.startswith("digest:manual:")
