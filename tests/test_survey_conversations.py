"""Surveys end to end in real conversations: the whole bot (Rasa, actions, worker) with the web
chat (Socket.IO), X DMs and mentions (fake X API) and the Slack desk (fake Slack).

One bot for the module. Its business.yml asks NPS whenever the 30-day NPS throttle allows
(``nps.share: 1``) and CSAT otherwise, so the order of the tests is part of the story: Maria
answers NPS on X, and is then asked CSAT on the web chat and on a second X account (the
throttle holds across channels). Unhappy answers after a handoff go to ``C0FOLLOWUP``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from sqlalchemy import select

from bot.customers import CustomerStore
from bot.customers.demo import load_demo_data
from bot.experience.report import load_report
from bot.handoff.desks.slack import CLAIM, RESOLVE
from bot.migrations import upgrade
from bot.processes import BotProcesses
from bot.surveys.models import ANSWERED, CSAT, DECLINED, IGNORED, NPS, SurveyRequest
from tests.fakes.slack import FakeSlack
from tests.fakes.x import FakeX
from tests.support import ROOT
from tests.support.bot import whole_bot, write_business_file
from tests.support.slack_desk import handoff_id
from tests.support.webchat import WebChatCustomer
from tests.support.x import MARIA, replies_to, wait_dm, x_env

CHANNEL = "C0HANDOFF"
FOLLOWUPS = "C0FOLLOWUP"
MARIA_SECOND = "1400000000000000077"  # another X account of Maria's, linked to her in the test
NPS_QUESTION = "recommend Hearthlink"
CSAT_QUESTION = "how satisfied are you"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("survey-conversations")


@pytest.fixture(scope="module")
def customers(data_dir: Path) -> CustomerStore:
    store = CustomerStore(f"sqlite:///{data_dir / 'customers.db'}")
    upgrade(store.url)
    load_demo_data(store)
    return store


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_channel(CHANNEL, "support-handoffs")
        fake.add_channel(FOLLOWUPS, "survey-followups")
        fake.add_user("UALEX", "Alex Morgan", "Alex")
        yield fake


@pytest.fixture(scope="module")
def x() -> Iterator[FakeX]:
    with FakeX() as fake:
        fake.add_user(MARIA, "maria_lopez", "Maria Lopez")
        fake.add_user(MARIA_SECOND, "maria_work", "Maria Lopez")
        yield fake


@pytest.fixture(scope="module")
def bot(
    trained_model: Path, slack: FakeSlack, x: FakeX, customers: CustomerStore, data_dir: Path
) -> Iterator[BotProcesses]:
    business = write_business_file(data_dir / "business.yml")
    document = yaml.safe_load(business.read_text(encoding="utf-8"))
    document["surveys"] = {
        "enabled": True, "after_bot_resolved": "csat", "after_agent": "csat",
        "nps": {"share": 1.0, "throttle_days": 30}, "sample_rate": 1.0, "expire_minutes": 30,
        "ask_comment": True, "followup_channel": FOLLOWUPS,
    }  # fmt: skip
    business.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    env = {
        **x_env(x), "X_MODE": "polling", "X_POLL_INTERVAL": "0.5", "X_TIMEOUT": "3",
        "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_SIGNING_SECRET": slack.signing_secret,
        "SLACK_HANDOFF_CHANNEL": CHANNEL, "SLACK_API_URL": slack.api_url,
        "SUPPORTBOT_BUSINESS_FILE": str(business), "SUPPORTBOT_DATABASE_URL": customers.url,
    }  # fmt: skip
    with whole_bot(trained_model, data_dir, env) as processes:
        x.wait_for(lambda: x.api_calls("dm_events"), timeout=60)  # the poller marked "now"
        yield processes


def surveys_of(customers: CustomerStore, conversation_id: str) -> list[SurveyRequest]:
    with customers.session() as session:
        rows = session.scalars(
            select(SurveyRequest).where(SurveyRequest.conversation_id == conversation_id)
        ).all()
        session.expunge_all()
        return list(rows)


def one_survey(customers: CustomerStore, conversation_id: str) -> SurveyRequest:
    rows = surveys_of(customers, conversation_id)
    assert len(rows) == 1, rows
    return rows[0]


def tracker_events(bot: BotProcesses, conversation_id: str) -> list[dict[str, Any]]:
    return requests.get(
        f"{bot.rasa_url}/conversations/{conversation_id}/tracker", params=bot.api_params, timeout=10
    ).json()["events"]


def message_with(customer: WebChatCustomer, fragment: str) -> dict[str, Any]:
    customer.wait_for(fragment)
    return next(m for m in customer.received if fragment in str(m.get("text") or ""))


def maria_id(customers: CustomerStore) -> int:
    maria = customers.find_by_identity("twitter", MARIA)
    assert maria is not None
    return maria.id


# --- X DMs, then the web chat: NPS once, then CSAT, for the same customer -----------------


def test_an_x_dm_conversation_ends_with_an_nps_survey_whose_answer_is_stored(
    bot: BotProcesses, x: FakeX, customers: CustomerStore
) -> None:
    x.add_dm(MARIA, "help")
    assert "\n4. " in wait_dm(x, MARIA, "I can help you with")  # numbered options, still stored
    x.add_dm(MARIA, "how long does delivery take?")
    wait_dm(x, MARIA, "Standard delivery")
    x.add_dm(MARIA, "thanks!")
    question = wait_dm(x, MARIA, NPS_QUESTION)
    # X's own NPS text: no numbered list (options 1-11 would not match the scores 0-10).
    assert "Reply with a number from 0" in question and "\n1. " not in question
    x.add_dm(MARIA, "4")  # the score 4, not option 4 of the earlier list
    wait_dm(x, MARIA, "anything you'd like to tell us")
    x.add_dm(MARIA, "no")
    wait_dm(x, MARIA, "Thanks for your feedback")
    row = one_survey(customers, MARIA)
    assert (row.kind, row.status, row.score, row.channel) == (NPS, ANSWERED, 4, "twitter")
    assert row.customer_key == f"customer:{maria_id(customers)}"
    assert row.intents == ["help", "delivery_time", "thank"] and row.handoff_id is None


def test_the_same_customer_on_the_web_chat_gets_csat_with_buttons_and_a_comment(
    bot: BotProcesses, customers: CustomerStore
) -> None:
    maria = WebChatCustomer(bot.rasa_url)
    try:
        customers.link_identity(maria_id(customers), "socketio", maria.session_id)
        maria.ask("how long does delivery take?", "Standard delivery")
        maria.ask("thank you", "You're welcome")
        question = message_with(maria, CSAT_QUESTION)  # NPS was asked on X within 30 days
        assert [r["payload"] for r in question["quick_replies"]] == ["1", "2", "3", "4", "5", "not now"]
        maria.ask("5 stars", "anything you'd like to tell us")
        maria.ask("the delivery info was clear, card 4111 1111 1111 1111", "passed that on")
        row = one_survey(customers, maria.session_id)
        assert (row.kind, row.status, row.score, row.channel) == (CSAT, ANSWERED, 5, "socketio")
        assert row.customer_key == f"customer:{maria_id(customers)}"
        assert (
            row.comment
            and row.comment.startswith("the delivery info was clear")
            and "4111" not in row.comment
        )
        # The answer is not one of her questions; the answer turn is in the tracker as the contract says.
        assert row.intents == ["delivery_time", "thank"]
        events = tracker_events(bot, maria.session_id)
        actions = [e.get("name") for e in events if e["event"] == "action"]
        assert actions.count("action_survey_answer") == 2 and "undo" not in [e["event"] for e in events]
    finally:
        maria.close()


def test_a_second_x_account_of_the_same_customer_gets_numbered_csat_options(
    bot: BotProcesses, x: FakeX, customers: CustomerStore
) -> None:
    customers.link_identity(maria_id(customers), "twitter", MARIA_SECOND)
    x.add_dm(MARIA_SECOND, "what payment methods do you accept?")
    wait_dm(x, MARIA_SECOND, "Visa")
    x.add_dm(MARIA_SECOND, "goodbye")
    question = wait_dm(x, MARIA_SECOND, "satisfied")
    assert "1. 1 · Very dissatisfied" in question and "5. 5 · Very satisfied" in question
    assert "Reply with a number" in question
    x.add_dm(MARIA_SECOND, "4")  # the fourth option, whose payload is the score 4
    wait_dm(x, MARIA_SECOND, "anything you'd like to tell us")
    row = one_survey(customers, MARIA_SECOND)
    assert (row.kind, row.status, row.score) == (CSAT, ANSWERED, 4)


def test_a_public_x_reply_never_carries_a_survey(
    bot: BotProcesses, x: FakeX, customers: CustomerStore
) -> None:
    tweet = x.add_mention(MARIA, "@hearthlink thanks so much for the help!")
    replies = x.wait_for(lambda: replies_to(x, tweet["id"]), timeout=30)
    assert all(NPS_QUESTION not in r["text"] and "satisfied" not in r["text"] for r in replies)
    with customers.session() as session:
        public = session.scalars(
            select(SurveyRequest).where(SurveyRequest.conversation_id.like("x-mention-%"))
        ).all()
    assert public == []


# --- the web chat: changing the subject, declining ----------------------------------------


def test_changing_the_subject_mid_survey_answers_the_new_question(
    bot: BotProcesses, customers: CustomerStore
) -> None:
    customer = WebChatCustomer(bot.rasa_url)
    try:
        customer.ask("how long does delivery take?", "Standard delivery")
        customer.ask("thanks", "You're welcome")
        question = message_with(customer, NPS_QUESTION)  # a new customer: NPS
        assert [r["payload"] for r in question["quick_replies"]][:11] == [str(n) for n in range(11)]
        customer.ask("what payment methods do you accept?", "Visa")
        row = one_survey(customers, customer.session_id)
        assert (row.status, row.score) == (IGNORED, None)
        events = tracker_events(bot, customer.session_id)
        answer = next(i for i, e in enumerate(events) if e.get("name") == "action_survey_answer")
        assert events[answer + 1]["event"] == "undo"  # reverted: the message was a normal question
        # One survey per conversation: another goodbye asks nothing more.
        customer.ask("bye", "Have a great day")
        assert NPS_QUESTION not in " ".join(customer.silent_for(1.5))
        assert len(surveys_of(customers, customer.session_id)) == 1
    finally:
        customer.close()


def test_declining_ends_the_survey_politely(bot: BotProcesses, customers: CustomerStore) -> None:
    customer = WebChatCustomer(bot.rasa_url)
    try:
        customer.ask("do you ship internationally?", "")
        customer.ask("thanks", NPS_QUESTION)
        customer.ask("no thanks", "No problem")
        assert one_survey(customers, customer.session_id).status == DECLINED
        assert "Visa" in customer.ask("what payment methods do you accept?", "Visa")  # never blocked
    finally:
        customer.close()


def test_a_customer_who_answers_twice_is_counted_once(bot: BotProcesses, customers: CustomerStore) -> None:
    customer = WebChatCustomer(bot.rasa_url)
    try:
        customer.ask("what payment methods do you accept?", "Visa")
        customer.ask("thanks", NPS_QUESTION)
        customer.ask("9", "anything you'd like to tell us")
        customer.ask("10", "Thanks for your feedback")  # a second tap: thanked, not counted, not a comment
        row = one_survey(customers, customer.session_id)
        assert (row.status, row.score, row.comment) == (ANSWERED, 9, None)
    finally:
        customer.close()


def test_troubleshooting_that_fixed_it_is_followed_by_the_survey(
    bot: BotProcesses, customers: CustomerStore
) -> None:
    customer = WebChatCustomer(bot.rasa_url)
    try:
        customer.ask("my wifi keeps dropping out", "unplug")
        customer.ask("yes that worked", "glad it's working")
        customer.wait_for(NPS_QUESTION)
        customer.ask("8", "anything you'd like to tell us")
        row = one_survey(customers, customer.session_id)
        assert (row.score, row.trigger, row.intents) == (8, "bot_resolved", ["connectivity_issue", "affirm"])
    finally:
        customer.close()


# --- after an agent resolved a handoff in Slack ---------------------------------------------


def test_after_an_agent_resolves_in_slack_an_unhappy_answer_is_posted_for_follow_up(
    bot: BotProcesses, slack: FakeSlack, customers: CustomerStore
) -> None:
    events_url = f"{bot.relay_url}/slack/events"
    customer = WebChatCustomer(bot.rasa_url)
    try:
        customer.ask("I want to talk to a human", "person from our support team")
        session = customer.session_id
        cards = lambda: [m for m in slack.messages(CHANNEL) if session in json.dumps(m.get("blocks"))]  # noqa: E731
        card = slack.wait_for(lambda: next(iter(cards()), None), timeout=15)
        slack.click_button(events_url, CLAIM, handoff_id(card), "UALEX", CHANNEL, card["ts"])
        customer.wait_for("has joined")
        slack.post_thread_reply(events_url, CHANNEL, card["ts"], "UALEX", "Sorted, anything else?")
        customer.wait_for("Sorted, anything else?")
        slack.click_button(events_url, RESOLVE, handoff_id(card), "UALEX", CHANNEL, card["ts"])
        customer.wait_for("back with the Hearthlink assistant")
        question = message_with(customer, NPS_QUESTION)
        assert question["quick_replies"]
        customer.ask("3", "anything you'd like to tell us")
        customer.ask("it took <!here> far too long", "passed that on")

        row = one_survey(customers, customer.session_id)
        assert (row.kind, row.score, row.trigger, row.agent_name) == (NPS, 3, "after_agent", "Alex")
        assert row.handoff_id == int(handoff_id(card)) and row.handoff_reason
        posts = slack.wait_for(lambda: (lambda p: p if len(p) == 2 else None)(slack.messages(FOLLOWUPS)), 15)
        permalink = f"https://fake-workspace.slack.com/archives/{CHANNEL}/p{card['ts'].replace('.', '')}"
        assert "NPS 3/10" in posts[0]["text"] and "Alex" in posts[0]["text"]
        assert f"<{permalink}|open the conversation>" in posts[0]["text"]
        assert "far too long" in posts[1]["text"] and "<!here>" not in posts[1]["text"]
        assert one_survey(customers, customer.session_id).followed_up
    finally:
        customer.close()


# --- last: what these real conversations left behind is what the report shows ---------------


def test_the_answers_of_these_conversations_appear_in_the_report(
    bot: BotProcesses, customers: CustomerStore, data_dir: Path
) -> None:
    with customers.session() as session:
        rows = session.execute(select(SurveyRequest.kind, SurveyRequest.status, SurveyRequest.score)).all()
    nps = [score for kind, status, score in rows if kind == NPS and status == ANSWERED]
    csat = [score for kind, status, score in rows if kind == CSAT and status == ANSWERED]
    assert nps and csat  # the tests above answered both
    report = load_report(
        "7d", endpoints_file=ROOT / "endpoints.yml", database_url=customers.url, data_dir=data_dir,
        business_path=data_dir / "business.yml",
    )  # fmt: skip
    figures = {name: figure["value"] for name, figure in report["figures"].items()}
    promoters, detractors = sum(s >= 9 for s in nps), sum(s <= 6 for s in nps)
    assert figures["nps"] == pytest.approx(100 * (promoters - detractors) / len(nps), abs=0.05)
    assert figures["csat"] == pytest.approx(100 * sum(s >= 4 for s in csat) / len(csat), abs=0.05)
    asked_nps = sum(1 for kind, _, _ in rows if kind == NPS)
    assert figures["nps_response_rate"] == pytest.approx(100 * len(nps) / asked_nps, abs=0.05)
    # The conversations themselves came from Rasa's tracker store: the customers' own questions.
    assert figures["conversations"] >= len(rows) and figures["handoff_rate"] > 0
