"""Export and erase one customer, on real SQLite and PostgreSQL, with Rasa's own tables beside ours.

Unit level (no Rasa server): the demo customers plus a handoff, inbox thread, outbox items,
X choices, counted metrics and Rasa tracker / broker events for Maria and for James. After
``erase`` every cell of every table (Rasa's included) is searched for Maria's name, email,
order numbers, handle and conversation ids; James must be untouched. The real-server
version, with Slack, is tests/security/test_erasure.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, String, Table

from bot.channels.x_store import XChoices
from bot.customers import CustomerStore
from bot.customers.verification import IdentityCheck
from bot.db import Base
from bot.handoff.models import DeskMessage, Handoff
from bot.metrics import MetricsStore
from bot.migrations.tables import metadata
from bot.outbox import OutboxItem, utcnow
from bot.retention.audit import recent
from bot.retention.erasure import (
    LINKED,
    NOT_ABOUT_CUSTOMERS,
    Erasure,
    ErasureError,
    Subject,
    find_subject,
    outbox_item_is_about,
    plan,
)
from bot.retention.rasa_tables import RasaStores
from tests.support.rasa_tables import (
    add_broker_events,
    add_tracker_events,
    create_broker_table,
    create_tracker_table,
    drop_events_table,
    leftovers,
    tracker_senders,
    user_event,
)

MARIA = ["Maria Lopez", "maria.lopez@example.com", "HL-104233", "HL-100982", "1400000000000000001",
         "@maria_lopez", "maria"]  # fmt: skip
# A column whose name says it points at a person or a conversation must be matched by erase.
PERSONAL_COLUMN = re.compile(r"customer|conversation|sender|email|phone|handle|order|external")


def _add_conversation_data(store: CustomerStore, who: str, x_id: str, tracker: str, broker: str) -> None:
    customer = store.find_by_identity("rest", who)
    assert customer is not None
    at = 1_700_000_000.0 + len(who)
    events = [user_event(f"hi, I am {customer.name}", at),
              user_event(f"my email is {customer.email}", at + 100, channel="twitter")]  # fmt: skip
    now = utcnow()
    with store.session() as session:
        handoff = Handoff(conversation_id=who, channel="rest", customer_id=customer.id, reason="asked",
                          status="resolved", packet={"name": customer.name, "email": customer.email},
                          relay_after=0, desk_channel="local-inbox", card_ts=f"9.{customer.id}",
                          created_at=now, resolved_at=now)  # fmt: skip
        session.add(handoff)
        session.flush()
        session.add_all([
            DeskMessage(ts=f"9.{customer.id}", author="bot", text=f"card: {customer.name}", created_at=now),
            DeskMessage(ts=f"9.{customer.id}1", thread_ts=f"9.{customer.id}", author="bot",
                        text=f"{customer.name}: where is my order", created_at=now),
            OutboxItem(queue=f"customer:{who}", kind="customer.say", payload={"text": "hello"}, attempts=0,
                       next_attempt_at=now, created_at=now),
            OutboxItem(queue=f"desk:{handoff.id}", kind="desk.post_thread",
                       payload={"handoff_id": handoff.id, "text": "about my order"}, attempts=0,
                       next_attempt_at=now, created_at=now, delivered_at=now),
            OutboxItem(queue=f"x:dm:{x_id}", kind="x.dm", payload={"user_id": x_id, "text": "hi"}, attempts=0,
                       next_attempt_at=now, created_at=now),
            XChoices(conversation_id=x_id, options=[{"title": customer.name}]),
        ])  # fmt: skip
    metrics = MetricsStore(store)
    for event in events:
        assert metrics.record(who, event)
    add_tracker_events(tracker, who, events)
    add_broker_events(broker, who, events)


def _rasa_urls(store_url: str, tmp_path: Path) -> tuple[str, str]:
    tracker = store_url if store_url.startswith("postgresql") else f"sqlite:///{tmp_path / 'tracker.db'}"
    return tracker, f"sqlite:///{tmp_path / 'broker.db'}"


def test_erase_leaves_nothing_about_the_customer_in_any_table_and_keeps_everyone_else(
    store: CustomerStore, store_url: str, tmp_path: Path
) -> None:
    tracker, broker = _rasa_urls(store_url, tmp_path)
    create_tracker_table(tracker)
    create_broker_table(broker)
    try:
        _add_conversation_data(store, "maria", "1400000000000000001", tracker, broker)
        _add_conversation_data(store, "james", "1400000000000000002", tracker, broker)
        with store.session() as session:  # someone else tried to link their chat to Maria's order
            session.add(IdentityCheck(channel="rest", sender_id="mallory", order_number="HL-104233",
                                      code_hash="x", created_at=utcnow(), expires_at=utcnow()))  # fmt: skip
        totals_before = MetricsStore(store).totals()
        erasure = Erasure(store_url, RasaStores(tracker, broker))

        exported = erasure.export("Maria.Lopez@example.com")
        expected = {"customers", "identities", "orders", "order_items", "conversations", "handoffs",
                    "desk_messages", "outbox", "x_choices", "metrics_counted_events"}  # fmt: skip
        assert expected <= set(exported["tables"])
        assert len(exported["tables"]["outbox"]) == 3 and len(exported["tables"]["desk_messages"]) == 2
        assert len(exported["rasa"]["tracker_store"]) == 2 and len(exported["rasa"]["event_broker"]) == 2
        assert "james" not in str(exported).lower()

        assert "events" in {table for table, _c, _v in leftovers(tracker, MARIA)}  # the search finds her
        assert {"customers", "handoffs", "outbox"} <= {table for table, _c, _v in leftovers(store_url, MARIA)}
        line = erasure.erase(str(store.find_by_identity("rest", "maria").id), slack=None)

        assert "customers=1" in line and "rasa_tracker_events=2" in line and "rasa_broker_events=2" in line
        assert "metrics_counted_events=2" in line and "Maria" not in line and "@" not in line
        for url in {store_url, tracker, broker}:
            assert leftovers(url, MARIA) == []
        assert recent(store)[0]["action"] == "erase" and recent(store)[0]["counts"]["identities"] == 2
        # James keeps everything; the daily totals (no person in them) are unchanged
        assert store.find_by_identity("twitter", "1400000000000000002") is not None
        assert len(store.orders_for(store.find_by_identity("rest", "james").id)) == 2
        assert "james" in tracker_senders(tracker) and leftovers(broker, ["james"])
        james = Erasure(store_url, RasaStores(tracker, broker)).export("james.okafor@example.com")
        assert len(james["tables"]["outbox"]) == 3
        assert MetricsStore(store).totals() == totals_before
        with pytest.raises(ErasureError, match="no customer with email"):
            erasure.erase("maria.lopez@example.com", slack=None)
    finally:
        if tracker.startswith("postgresql"):
            drop_events_table(tracker)


def test_every_table_is_erased_by_its_columns_or_listed_with_the_reason_it_holds_no_customer(
    store: CustomerStore,
) -> None:
    tables = metadata().tables
    with store.session() as session:
        planned = plan(session, find_subject(session, "maria.lopez@example.com"), set())
    assert not set(planned) & set(NOT_ABOUT_CUSTOMERS), "a table is both erased and 'not about customers'"
    unhandled = set(tables) - set(planned) - set(NOT_ABOUT_CUSTOMERS)
    assert not unhandled, (
        f"{unhandled}: erase does not cover these tables. Give them a customer_id / conversation_id / "
        "sender_id column (or a foreign key to a covered table), a rule in bot.retention.erasure.LINKED, "
        "or list them in NOT_ABOUT_CUSTOMERS with the reason"
    )
    assert set(NOT_ABOUT_CUSTOMERS) <= set(tables) and set(LINKED) <= set(planned)  # nothing stale
    for name, table in tables.items():
        personal = [c.name for c in table.columns if PERSONAL_COLUMN.search(c.name)]
        if personal:
            assert name in planned, f"{name}.{personal} names a customer or conversation but erase skips it"


def test_a_new_table_with_a_conversation_column_is_covered_without_touching_erase(
    store: CustomerStore,
) -> None:
    extra = Table("identity_checks_example", Base.metadata, Column("id", Integer, primary_key=True),
                  Column("sender_id", String(200)), Column("attempts", Integer))  # fmt: skip
    try:
        with store.session() as session:
            planned = plan(session, find_subject(session, "maria.lopez@example.com"), set())
        assert "identity_checks_example" in planned
        assert "maria" in str(
            planned["identity_checks_example"].compile(compile_kwargs={"literal_binds": True})
        )
    finally:
        Base.metadata.remove(extra)


def test_an_outbox_item_belongs_to_the_customer_by_queue_handoff_or_what_it_names() -> None:
    subject = Subject(frozenset({1}), frozenset({"a@example.com"}), frozenset({"maria", "140"}),
                      frozenset({7}), (), frozenset({"HL-104233", "a@example.com"}))  # fmt: skip
    assert outbox_item_is_about(subject, "customer:maria", {})
    assert outbox_item_is_about(subject, "desk:7", {})
    assert outbox_item_is_about(subject, "x:dm:140", {})
    assert outbox_item_is_about(subject, "x:tweet:9", {"text": "about hl-104233"})
    assert not outbox_item_is_about(subject, "customer:james", {"text": "hello"})
    assert not outbox_item_is_about(subject, "desk:70", {"handoff_id": 70})


def test_a_customer_is_named_by_email_or_number_only(store: CustomerStore) -> None:
    with store.session() as session:
        with pytest.raises(ErasureError, match="neither an email address nor a customer number"):
            find_subject(session, "Maria Lopez")
        assert find_subject(session, "MARIA.LOPEZ@example.com").conversation_ids >= {"maria"}


def test_erase_asks_slack_only_for_what_the_shipped_app_may_already_do() -> None:
    import yaml

    root = Path(__file__).resolve().parent.parent
    source = (root / "bot" / "retention" / "slack_cleanup.py").read_text(encoding="utf-8")
    assert set(re.findall(r"client\.(\w+)\(", source)) == {"chat_delete", "conversations_replies"}
    manifest = yaml.safe_load((root / "slack_app_manifest.yml").read_text(encoding="utf-8"))
    # chat.delete (the bot's own posts): chat:write; conversations.replies: channels/groups:history
    assert {"chat:write", "channels:history", "groups:history"} <= set(
        manifest["oauth_config"]["scopes"]["bot"]
    )


def test_erase_stops_before_erasing_anything_when_slack_cannot_delete_the_cards(
    store: CustomerStore, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.retention.cli import _slack_deleter
    from bot.retention.slack_cleanup import SlackCleanupError

    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_HANDOFF_CHANNEL"):
        monkeypatch.setenv(name, "")
    maria = store.find_by_identity("rest", "maria")
    with store.session() as session:
        session.add(Handoff(conversation_id="maria", channel="rest", customer_id=maria.id, reason="asked",
                            status="resolved", packet={}, relay_after=0, desk_channel="C0HANDOFF",
                            card_ts="1700000000.000100", created_at=utcnow()))  # fmt: skip
    erasure = Erasure(store_url, RasaStores(None, None))
    with pytest.raises(SlackCleanupError, match="--keep-slack"):
        erasure.erase("maria.lopez@example.com", _slack_deleter())
    assert store.find_by_identity("rest", "maria") == maria and recent(store) == []
    line = erasure.erase("maria.lopez@example.com", None)  # --keep-slack: everything else goes
    assert "handoffs=1" in line and store.find_by_identity("rest", "maria") is None
