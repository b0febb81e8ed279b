"""History on a real card: the second handoff's card links the first one's thread in the fake Slack.

The action server builds the packet (actions/handoff.py), the relay posts it through its real
slack_sdk client to the fake Slack (over HTTP); the earlier card's channel and ts are the ones
the fake Slack returned, so the archive link points at a message that exists. No Rasa.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from actions.handoff import ActionHandoff
from bot.customers import CustomerStore
from bot.handoff.store import HandoffStore
from bot.surveys.models import AFTER_AGENT, CSAT
from bot.surveys.store import NewSurvey, SurveyStore
from tests.fakes.slack import FakeSlack
from tests.support.desk_rig import drain_desk as drain
from tests.support.desk_rig import use_routing
from tests.support.trackers import user
from tests.test_actions import run
from tests.test_handoff_routing_delivery import HANDOFF_CHANNEL, ROUTING, slack_relay


@pytest.fixture
def use_store(store: CustomerStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CustomerStore:
    """The demo customers, and business.yml routing billing questions to C0BILLING."""
    return use_routing(store, monkeypatch, tmp_path, ROUTING)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        for channel, name in ((HANDOFF_CHANNEL, "support"), ("C0BILLING", "billing")):
            fake.add_channel(channel, name)
        yield fake


def test_second_card_links_the_first_thread_and_shows_the_survey(
    use_store: CustomerStore, slack: FakeSlack
) -> None:
    relay = slack_relay(use_store, slack)
    handoffs = HandoffStore(use_store)
    run(ActionHandoff(), "maria", [user("I was charged twice", "billing_dispute")])
    asyncio.run(drain(relay))
    first = handoffs.latest_for("maria")
    assert first.desk_channel == "C0BILLING" and first.card_ts
    handoffs.claim(first.id, "U1", "Alex")
    handoffs.resolve(first.id, "Alex")
    asyncio.run(drain(relay))

    maria = use_store.find_by_identity("rest", "maria")
    surveys = SurveyStore(use_store)
    key = "maria@1"
    surveys.ask(
        NewSurvey(key, "maria", f"customer:{maria.id}", "rest", CSAT, AFTER_AGENT, [], first.id, "Alex")
    )
    assert surveys.answer(key, 2, now=datetime(2026, 11, 3, 10, 0))
    assert surveys.comment(key, "still <!channel> broken, mail me at maria.lopez@example.com")

    run(ActionHandoff(), "maria", [user("I was charged twice again", "billing_dispute")])
    asyncio.run(drain(relay))
    second = handoffs.latest_for("maria")
    assert second.id != first.id

    cards = [m for m in slack.messages("C0BILLING") if m["ts"] == second.card_ts]
    assert len(cards) == 1, slack.describe_state()
    text = "\n".join(
        block["text"]["text"]
        for block in cards[0]["blocks"]
        if block.get("type") == "section" and "text" in block
    )
    link = f"https://slack.com/archives/{first.desk_channel}/p{first.card_ts.replace('.', '')}"
    assert f"*Earlier handoffs*\n• <{link}|" in text
    assert f"(#{first.id})> · billing · Resolved · Alex — " in text
    assert (
        "*Last survey:* CSAT 2/5 on 3 Nov 2026 — “still &lt;!channel&gt; broken, mail me at [email]”" in text
    )
    assert "<!channel>" not in json.dumps(cards[0]["blocks"])
    # The first card (re-rendered on resolve) has no history: it had none when it opened.
    old = [m for m in slack.messages("C0BILLING") if m["ts"] == first.card_ts]
    assert "Earlier handoffs" not in json.dumps(old)
