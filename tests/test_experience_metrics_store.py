"""The loader on real stores: a tracker written by Rasa's own SQLTrackerStore, our migrated database.

Rasa writes the tracker (``SQLTrackerStore.save`` of a ``DialogueStateTracker`` built from Rasa's
event classes), so the test proves the loader reads Rasa 3.6's real format, not our guess of it;
the endpoints file points at it the way ``bot.processes`` starts Rasa (a relative SQLite name
in the data directory).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.customers.models import Customer, Identity
from bot.db import Database
from bot.experience.report import load_report
from bot.handoff.models import Handoff
from bot.surveys.models import SurveyRequest
from tests.support import ROOT
from tests.support.bot import write_business_file

NOW = datetime(2026, 12, 20, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> float:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC).timestamp()


def naive(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None)


def save_trackers(path: Path, conversations: dict[str, list[object]]) -> None:
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.load(str(ROOT / "domain.yml"))
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(path))
    for sender, events in conversations.items():
        tracker = DialogueStateTracker.from_events(sender, events, domain.slots)
        asyncio.run(store.save(tracker))
    store.engine.dispose()


def session(sender_channel: str, text: str, intent: str, stamp: float, reply: str) -> list[object]:
    """A Rasa session as the server records it: session start, the message, the answer."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered

    return [
        ActionExecuted("action_session_start", timestamp=stamp),
        SessionStarted(timestamp=stamp),
        ActionExecuted("action_listen", timestamp=stamp),
        UserUttered(
            text, {"name": intent, "confidence": 0.93}, timestamp=stamp, input_channel=sender_channel
        ),
        ActionExecuted(reply, timestamp=stamp + 2),
        BotUttered("Here you go.", {"utter_action": reply}, {"utter_action": reply}, timestamp=stamp + 2),
        ActionExecuted("action_listen", timestamp=stamp + 2),
    ]


@pytest.fixture
def stores(tmp_path: Path, store_url: str) -> tuple[Path, str, Path]:
    """(endpoints file, our database URL, business file); ``tmp_path`` is the data directory.

    Our database is SQLite and PostgreSQL in turn (``store_url``); the tracker is Rasa's SQLite file.
    """
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        yaml.safe_dump({"tracker_store": {"type": "SQL", "dialect": "sqlite", "db": "tracker.db"}})
    )
    business = write_business_file(
        tmp_path / "business.yml",
        business_hours={
            "timezone": "Europe/London",
            "days": ["mon", "tue", "wed", "thu", "fri", "sat"],
            "open": "08:00",
            "close": "20:00",
        },
    )
    document = yaml.safe_load(business.read_text())
    document["metrics"] = {"verified_after_hours": 24, "durable_after_days": 7}
    business.write_text(yaml.safe_dump(document, sort_keys=False))
    return endpoints, store_url, business


def test_a_rasa_tracker_store_through_the_loader(stores: tuple[Path, str, Path], tmp_path: Path) -> None:
    endpoints, database_url, business = stores
    from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationPaused

    web, x, human = at(2, 10), at(3, 9), at(6, 19, 30)
    handoff_events = [
        *session("webchat", "I want a person", "human_handoff", human, "utter_greet")[:4],
        ActionExecuted("action_handoff", timestamp=human + 1),
        BotUttered("A person will be with you shortly.", timestamp=human + 1),
        ConversationPaused(timestamp=human + 1),
        BotUttered("Hi, Sam here", metadata={"agent_id": "U1", "agent_name": "Sam"}, timestamp=at(9, 8, 31)),
    ]
    save_trackers(
        tmp_path / "tracker.db",
        {
            "wc-maria": session("webchat", "where is my order", "order_status", web, "action_order_status"),
            "1234": session("twitter", "still no parcel", "order_status", x, "action_order_status"),
            "wc-g": handoff_events,
        },
    )
    db = Database(database_url)
    with db.session() as s:
        maria = Customer(name="Maria", devices=[], preferences={}, created_at=naive(web))
        maria.identities = [
            Identity(channel="webchat", external_id="wc-maria"),
            Identity(channel="twitter", external_id="1234"),
        ]
        s.add(maria)
        s.add(
            Handoff(
                conversation_id="wc-g",
                channel="webchat",
                reason="the customer asked for a person",
                status="resolved",
                packet={},
                relay_after=human,
                created_at=naive(human + 1),
                claimed_at=naive(at(9, 8, 30)),
                claimed_by="U1",
                claimed_by_name="Sam",
                resolved_at=naive(at(9, 9)),
            )
        )
        s.add(
            Handoff(
                conversation_id="wc-q",
                channel="webchat",
                reason="billing dispute",
                status="waiting",
                packet={},
                relay_after=0,
                created_at=naive(at(19, 12)),
            )
        )
        s.add(
            SurveyRequest(
                conversation_key=f"1234@{int(x)}",
                conversation_id="1234",
                customer_key="customer:1",
                channel="twitter",
                kind="nps",
                trigger="bot_resolved",
                intents=["order_status"],
                status="answered",
                score=6,
                comment="slow",
                asked_at=naive(x + 10),
                answered_at=naive(x + 40),
            )
        )

    report = load_report(
        "2026-11",
        endpoints_file=endpoints,
        database_url=database_url,
        data_dir=tmp_path,
        now=NOW,
        business_path=business,
    )
    figures = {name: figure["value"] for name, figure in report["figures"].items()}
    assert report["breakdowns"]["channel"][0]["figures"]["conversations"] == 2  # webchat
    assert figures["conversations"] == 3
    assert figures["involvement"] == 66.7  # wc-g went to a person at once
    # Maria came back on X 22:59:58 after her web chat: one customer, so the web chat is not verified.
    assert figures["verified_resolution"] == 50.0
    assert figures["reopen_rate"] == 33.3
    assert figures["bot_first_response_median"] == 2.0  # 2, 2 and the handoff notice after 1 s
    assert figures["handoff_claim_median_business_hours"] == 1799 + 12 * 3600 + 1800
    assert figures["people_first_reply_median"] == 219_659.0
    assert (figures["nps"], figures["nps_response_rate"], figures["waiting_now"]) == (-100.0, 100.0, 1)
    assert report["detractor_comments"][0]["comment"] == "slow"
    assert {row["key"] for row in report["breakdowns"]["channel"]} == {"webchat", "twitter"}
    assert report["breakdowns"]["agent"][0]["key"] == "Sam"


def test_no_tracker_table_yet_is_an_empty_report(stores: tuple[Path, str, Path], tmp_path: Path) -> None:
    endpoints, database_url, business = stores
    report = load_report(
        "2026-11",
        endpoints_file=endpoints,
        database_url=database_url,
        data_dir=tmp_path,
        now=NOW,
        business_path=business,
    )
    assert report["figures"]["conversations"]["value"] == 0
    assert report["figures"]["involvement"]["value"] is None
    assert report["waiting_now"] == 0 and report["trend"][0]["day"] == "2026-11-01"


def test_a_tracker_store_that_is_not_sql_is_named(stores: tuple[Path, str, Path], tmp_path: Path) -> None:
    from bot.experience.tracker_events import TrackerStoreError

    _, database_url, business = stores
    memory = tmp_path / "memory.yml"
    memory.write_text("tracker_store: {}\n")
    with pytest.raises(TrackerStoreError, match="tracker_store is not SQL"):
        load_report(
            "2026-11",
            endpoints_file=memory,
            database_url=database_url,
            data_dir=tmp_path,
            now=NOW,
            business_path=business,
        )
