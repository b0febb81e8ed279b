"""A customer writing from a new channel proves an order is theirs with a mailed one-time code.

The actions run as the action server runs them, against real SQLite and PostgreSQL stores
and a real SMTP server on 127.0.0.1 (tests/fakes/smtp.py): the code is read from the mail.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from actions.identity import ActionCheckIdentityCode, ActionVerifyIdentity
from actions.orders import ActionOrderStatus
from bot.customers import CustomerStore
from bot.customers.verification import (
    CODE_LIFETIME,
    MAX_CHECKS_PER_ORDER,
    MAX_CHECKS_PER_SENDER,
    IdentityCheck,
    IdentityChecks,
)
from tests.fakes.smtp import Mailbox
from tests.support.trackers import user
from tests.test_actions import responses, run

MARIA = "maria.lopez@example.com"


@pytest.fixture(autouse=True)
def use_store(store: CustomerStore, monkeypatch: pytest.MonkeyPatch) -> CustomerStore:
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", store.url)
    return store


def ask(sender: str, number: str) -> tuple[list[dict], list[dict]]:
    return run(ActionOrderStatus(), sender, [user(number, "inform")], order_number=number)


def give_email(sender: str, number: str, email: str) -> tuple[list[dict], list[dict]]:
    slots = {"pending_order": number, "pending_action": "action_order_status", "email": email}
    return run(ActionVerifyIdentity(), sender, [user(email, "inform")], **slots)


def type_code(sender: str, code: str) -> tuple[list[dict], list[dict]]:
    slots = {"pending_order": "HL-104233", "pending_action": "action_order_status", "identity_code": code}
    return run(ActionCheckIdentityCode(), sender, [user(code, "inform")], **slots)


def followups(events: list[dict]) -> list[str]:
    return [e["name"] for e in events if e["event"] == "followup"]


def linked_name(store: CustomerStore, sender: str) -> str | None:
    found = store.find_by_identity("rest", sender)
    return found.name if found else None


def test_existing_and_unknown_orders_get_the_same_offer(mailbox: Mailbox) -> None:
    real_messages, real_events = ask("x-new-1", "HL-104233")
    fake_messages, fake_events = ask("x-new-1b", "HL-999999")
    assert real_messages == fake_messages == []  # nothing about the order, and no "not found"
    assert followups(real_events) == followups(fake_events) == ["verify_identity_form"]
    assert {"event": "slot", "name": "pending_order", "value": "HL-999999", "timestamp": None} in fake_events


def test_without_a_mail_server_linking_is_not_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_HOST", "")
    for number in ("HL-104233", "HL-999999"):
        messages, events = ask("x-no-mail", number)
        assert responses(messages) == ["utter_identity_link_unavailable"]
        assert followups(events) == ["utter_offer_human"]
    messages, _ = give_email("x-no-mail", "HL-104233", MARIA)
    assert responses(messages) == ["utter_identity_link_unavailable"]


def test_the_right_email_gets_a_code_by_mail_and_a_wrong_one_the_same_answer(
    mailbox: Mailbox, use_store: CustomerStore
) -> None:
    right, right_events = give_email("x-new-2", "HL-104233", "Maria.Lopez@example.com")
    wrong, wrong_events = give_email("x-new-3", "HL-104233", "someone@else.com")
    unknown, _ = give_email("x-new-4", "HL-999999", MARIA)
    assert [m["response"] for m in right] == [m["response"] for m in wrong] == ["utter_identity_code_sent"]
    assert right == wrong and responses(unknown) == ["utter_identity_code_sent"]
    assert followups(right_events) == followups(wrong_events) == ["identity_code_form"]
    mail = mailbox.wait_for(MARIA)[0]
    assert "HL-104233" in mail.get_content() and len(mailbox.messages) == 1
    assert linked_name(use_store, "x-new-2") is None  # an email alone links nothing


def test_the_right_code_links_the_chat_and_tells_the_owner(
    mailbox: Mailbox, use_store: CustomerStore
) -> None:
    give_email("x-new-5", "HL-104233", MARIA)
    code = mailbox.code_in(mailbox.wait_for(MARIA)[0])
    messages, events = type_code("x-new-5", code)
    assert responses(messages) == ["utter_identity_verified"] and messages[0]["first_name"] == "Maria"
    assert followups(events) == ["action_order_status"]
    assert {"event": "slot", "name": "order_number", "value": "HL-104233", "timestamp": None} in events
    assert linked_name(use_store, "x-new-5") == "Maria Lopez"
    notice = mailbox.wait_for(MARIA, count=2)[1]
    assert "linked" in str(notice["Subject"]) and "REST API" in notice.get_content()
    messages, _ = ask("x-new-5", "HL-104233")
    assert responses(messages) == ["utter_order_shipped"]
    again, _ = type_code("x-new-5", code)  # a used code does nothing more
    assert responses(again) == ["utter_identity_code_expired"]


def test_wrong_codes_never_link_and_end_the_check(mailbox: Mailbox, use_store: CustomerStore) -> None:
    give_email("x-new-6", "HL-104233", MARIA)
    code = mailbox.code_in(mailbox.wait_for(MARIA)[0])
    wrong = "000000" if code != "000000" else "111111"
    first, events = type_code("x-new-6", wrong)
    assert responses(first) == ["utter_identity_code_wrong"] and first[0]["tries_left"] == 2
    assert followups(events) == ["identity_code_form"]
    type_code("x-new-6", wrong)
    last, events = type_code("x-new-6", wrong)
    assert responses(last) == ["utter_identity_not_verified"] and followups(events) == ["utter_offer_human"]
    late, _ = type_code("x-new-6", code)  # the right code after three wrong ones: too late
    assert responses(late) == ["utter_identity_code_expired"]
    assert linked_name(use_store, "x-new-6") is None


def test_something_that_is_not_a_code_stops_the_check(mailbox: Mailbox, use_store: CustomerStore) -> None:
    give_email("x-new-7", "HL-104233", MARIA)
    code = mailbox.code_in(mailbox.wait_for(MARIA)[0])
    messages, _ = type_code("x-new-7", "what do you mean, code?")
    assert responses(messages) == ["utter_identity_check_stopped"]
    assert responses(type_code("x-new-7", code)[0]) == ["utter_identity_code_expired"]
    assert linked_name(use_store, "x-new-7") is None


def test_attempts_are_limited_per_sender_and_per_order(mailbox: Mailbox) -> None:
    for attempt in range(MAX_CHECKS_PER_SENDER):
        messages, _ = give_email("x-guesser", f"HL-90000{attempt}", MARIA)
        assert responses(messages) == ["utter_identity_code_sent"]
    messages, events = give_email("x-guesser", "HL-104233", MARIA)
    assert responses(messages) == ["utter_identity_too_many_attempts"]
    assert followups(events) == ["utter_offer_human"]
    for attempt in range(MAX_CHECKS_PER_ORDER):  # fresh chats are free: the order itself is limited
        assert responses(give_email(f"x-swarm-{attempt}", "HL-118020", f"guess{attempt}@x.com")[0]) == [
            "utter_identity_code_sent"
        ]
    messages, _ = give_email("x-swarm-last", "HL-118020", "james.okafor@example.com")
    assert responses(messages) == ["utter_identity_too_many_attempts"]
    assert mailbox.to("james.okafor@example.com") == []  # the right email, after the limit: no mail


def test_codes_expire_and_are_kept_only_as_hashes(use_store: CustomerStore) -> None:
    checks = IdentityChecks(use_store.url)
    then = datetime(2026, 12, 1, 12, 0)
    started = checks.start("rest", "x-clock", "HL-104233", MARIA, now=then)
    assert started.code and len(started.code) == 6 and started.code.isdigit()
    with use_store.session() as session:
        row = session.scalar(select(IdentityCheck).where(IdentityCheck.sender_id == "x-clock"))
        assert started.code not in row.code_hash and row.code_hash.startswith("pbkdf2_sha256$")
    late = checks.check_code("rest", "x-clock", started.code, now=then + CODE_LIFETIME + timedelta(seconds=1))
    assert late.outcome == "expired"
    assert linked_name(use_store, "x-clock") is None


def test_a_known_customer_asking_about_someone_elses_order_is_not_offered_a_link() -> None:
    messages, events = ask("james", "HL-104233")
    assert responses(messages) == ["utter_order_not_on_account"]
    assert "verify_identity_form" not in followups(events)


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # many action servers: production
def test_a_burst_of_parallel_guesses_cannot_count_past_the_per_order_limit(use_store: CustomerStore) -> None:
    """Many chats guessing one order's email at the same instant (replicas' action servers)."""
    from concurrent.futures import ThreadPoolExecutor

    checks = IdentityChecks(use_store.url)
    with ThreadPoolExecutor(max_workers=12) as pool:
        started = list(
            pool.map(
                lambda n: checks.start("rest", f"burst-{n}", "HL-104233", f"guess{n}@example.com"), range(24)
            )
        )
    assert sum(not s.limited for s in started) == MAX_CHECKS_PER_ORDER
    with use_store.session() as session:
        rows = session.scalars(select(IdentityCheck).where(IdentityCheck.order_number == "HL-104233")).all()
    assert len(rows) == MAX_CHECKS_PER_ORDER


def test_the_mails_are_in_the_language_of_the_chat(mailbox: Mailbox) -> None:
    """A customer writing in Spanish reads the code mail, and the owner the notice, in Spanish."""
    slots = {"pending_order": "HL-104233", "pending_action": "action_order_status", "language": "es"}
    run(ActionVerifyIdentity(), "x-es-1", [user(MARIA, "inform")], email=MARIA, **slots)
    mail = mailbox.wait_for(MARIA)[0]
    assert (
        str(mail["Subject"]).startswith("Tu código de Hearthlink")
        and "Es válido durante 10 minutos" in mail.get_content()
    )
    code = mailbox.code_in(mail)
    run(ActionCheckIdentityCode(), "x-es-1", [user(code, "inform")], identity_code=code, **slots)
    notice = mailbox.wait_for(MARIA, count=2)[1]
    assert (
        "Se vinculó un chat nuevo" in str(notice["Subject"])
        and "Ahora puede ver tus pedidos" in notice.get_content()
    )
