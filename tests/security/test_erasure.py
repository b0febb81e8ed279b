"""Erasure, tried for real: a customer talks to the running bot, hands off to Slack, then is erased.

Threat: a customer's personal data (name, email, orders, whole conversations) outlives their
request to be forgotten — in one of our tables, in Rasa's tracker store or event broker, in
a counted-metrics key, or in the agents' Slack channel. The attack is the audit an
operator (or a regulator) would make afterwards: search every cell of every table in the
database, Rasa's included, and every message the fake Slack workspace still holds, for the
customer's name, email, order number and conversation id. Nothing may be found, the
audit line must say what was removed (counts, never the data), and other customers keep
everything. Run on the embedded default (SQLite) and on PostgreSQL with Rasa's tracker
store in the same database, as in production. Heavy: run under the lock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from bot.customers import CustomerStore
from bot.db import Database
from bot.handoff.desks.slack import CLAIM
from bot.outbox import OutboxItem
from bot.retention.audit import recent
from tests.support.erasure import CHANNEL, ErasureRig, erasure_bot
from tests.support.rasa_tables import leftovers
from tests.support.slack_desk import handoff_id
from tests.support.waiting import wait_for

AGENT_REPLY = "Thanks, I am checking that for you now."
PRIYA = ["Priya Shah", "priya.shah@example.com", "HL-131337", "priya", "9400111899223197428490"]


def say(rig: ErasureRig, text: str) -> list[dict[str, Any]]:
    answer = requests.post(
        rig.bot.webhook_url,
        json={"sender": "priya", "message": text},
        headers=rig.bot.rest_headers,
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def bot_said(rig: ErasureRig, text: str) -> bool:
    answer = requests.get(
        f"{rig.bot.api_url}/conversations/priya/tracker", params=rig.bot.api_params, timeout=10
    )
    return any(e.get("event") == "bot" and e.get("text") == text for e in answer.json().get("events", []))


def outbox_pending(url: str) -> int:
    with Database(url).session() as session:
        return int(
            session.scalar(select(func.count(OutboxItem.id)).where(OutboxItem.delivered_at.is_(None))) or 0
        )


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_an_erased_customer_is_found_nowhere_not_in_rasa_nor_in_slack(
    trained_model: Path, tmp_path: Path, dialect: str
) -> None:
    with erasure_bot(trained_model, tmp_path, dialect) as rig:
        say(rig, "hi")
        say(rig, "where is my order HL-131337?")
        say(rig, "I want to talk to a human")
        card = wait_for(
            lambda: next((m for m in rig.slack.messages(CHANNEL) if "Priya" in json.dumps(m)), None),
            30, "the handoff card in Slack",
        )  # fmt: skip
        say(rig, "my email is priya.shah@example.com and the order is HL-131337")  # relayed into the thread
        wait_for(lambda: any("HL-131337" in r.get("text", "") for r in rig.slack.replies(card["ts"])),
                   30, "the customer's message in the card's thread")  # fmt: skip
        # An agent takes over and answers in the thread (a person's post: the bot token cannot delete it).
        status, _ = rig.slack.click_button(
            rig.events_url, CLAIM, handoff_id(card), "UALEX", CHANNEL, card["ts"]
        )
        assert status == 200
        status, _, _ = rig.slack.post_thread_reply(rig.events_url, CHANNEL, card["ts"], "UALEX", AGENT_REPLY)
        assert status == 200
        wait_for(lambda: bot_said(rig, AGENT_REPLY),
                   60, "the agent's reply recorded in the conversation")  # fmt: skip
        wait_for(lambda: outbox_pending(rig.database_url) == 0, 30, "the outbox delivered everything")
        stores = {rig.database_url, rig.tracker_url, rig.broker_url}
        assert all(leftovers(url, PRIYA) for url in stores)  # the search does find her before
        assert "events" in {table for table, _column, _value in leftovers(rig.tracker_url, PRIYA)}  # Rasa's
        maria = CustomerStore(rig.database_url).find_by_identity("rest", "maria")

        done = rig.command("erase", "Priya.Shah@example.com")

        assert done.returncode == 0, done.stderr
        line = done.stdout.split("==> erased: ", 1)[1].splitlines()[0]
        for url in stores:
            assert leftovers(url, PRIYA) == [], url
        left_in_slack = rig.slack.all_messages()
        assert not [m for m in left_in_slack if any(n.lower() in json.dumps(m).lower() for n in PRIYA)]
        assert [m["text"] for m in left_in_slack] == [AGENT_REPLY]  # the agent's own post stays, counted
        counts = dict(item.split("=") for item in line.split(": ", 1)[1].split())
        assert counts["customers"] == "1" and int(counts["rasa_tracker_events"]) > 0
        assert int(counts["slack_messages"]) >= 2 and counts["slack_messages_kept"] == "1"  # card + thread
        assert not any(needle.lower() in line.lower() for needle in PRIYA)  # counts, never the data
        stored = recent(Database(rig.database_url))[0]
        assert stored["action"] == "erase" and stored["line"] == line
        assert CustomerStore(rig.database_url).find_by_identity("rest", "maria") == maria  # others unchanged

        again = rig.command("erase", "priya.shah@example.com")
        assert again.returncode == 1 and "no customer with email" in again.stderr
