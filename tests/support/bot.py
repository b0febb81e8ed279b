"""The whole bot for end-to-end tests: real servers on free ports, business settings to match."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.customers import CustomerStore
from bot.customers.demo import load_demo_data
from bot.migrations import upgrade
from tests.support import ROOT


def write_business_file(target: Path, **handoff: object) -> Path:
    """A copy of business.yml with some ``handoff`` settings replaced.

    Tests run at any hour, so by default the copy says the team is always there
    (the shipped file has real opening hours); the rest is the shipped configuration.
    """
    import yaml

    document = yaml.safe_load((ROOT / "business.yml").read_text(encoding="utf-8"))
    settings = document.setdefault("handoff", {})
    settings["business_hours"] = {
        "timezone": "UTC", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "open": "00:00", "close": "00:00",
    }  # fmt: skip
    settings.update(handoff)
    document.setdefault("digest", {})["enabled"] = False  # the weekly digest: only tests/test_digest*.py
    target.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return target


# No Slack settings: handoffs go to the relay's local inbox (also overrides a developer's own).
NO_SLACK = {"SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": "", "SLACK_HANDOFF_CHANNEL": ""}


@contextmanager
def whole_bot(
    model: Path,
    data: Path,
    env: dict[str, str] | None = None,
    relay: bool = True,
    endpoints: Path | None = None,
) -> Iterator[Any]:
    """The real action server, Rasa server and (``relay``) the worker (relay, metrics, X), on free ports.

    Demo customers are loaded into ``data/customers.db``; SQLite tracker and broker live in
    ``data`` too; logs in ``data/logs``. Stops everything when the block ends.
    """
    from bot.processes import free_port, start_bot

    upgrade(f"sqlite:///{data / 'customers.db'}")
    load_demo_data(CustomerStore(f"sqlite:///{data / 'customers.db'}"))
    processes = start_bot(
        model,
        endpoints=endpoints or ROOT / "endpoints.yml",
        rasa_port=free_port(),
        actions_port=free_port(),
        worker_port=free_port() if relay else None,
        data_directory=data,
        log_dir=data / "logs",
        env={"SUPPORTBOT_DATABASE_URL": f"sqlite:///{data / 'customers.db'}", **(env or {})},
    )
    try:
        yield processes
    finally:
        processes.stop()


def stored_events(data: Path, sender: str | None = None) -> int:
    """Rows Rasa wrote in ``data`` (tracker store and SQL event broker), for ``sender`` or all.

    Read from the SQLite files themselves: asking Rasa for a tracker would create one.
    """
    import sqlite3
    from contextlib import closing

    total = 0
    for name in ("tracker.db", "broker.db"):
        path = data / name
        if not path.is_file():
            continue
        query, values = (
            ("SELECT count(*) FROM events", ())
            if sender is None
            else ("SELECT count(*) FROM events WHERE sender_id = ?", (sender,))
        )
        with closing(sqlite3.connect(path)) as database:
            total += int(database.execute(query, values).fetchone()[0])
    return total
