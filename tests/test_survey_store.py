"""The survey table (bot/surveys/store.py) on real SQLite and PostgreSQL, throttling across
channels (bot/surveys/choice.py), and the detractor follow-up through the relay's outbox to
the fake Slack (real HTTP, the relay's real slack_sdk client) and to the local inbox."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.business import load_business_settings
from bot.customers import CustomerStore
from bot.handoff.desks.inbox import InboxDesk
from bot.handoff.desks.slack import SlackDesk
from bot.handoff.rasa_api import RasaAPI
from bot.handoff.relay import Relay
from bot.handoff.store import HandoffStore
from bot.outbox import DELIVERED, OutboxItem, OutboxWorker
from bot.surveys.choice import choose_kind, fraction
from bot.surveys.models import (
    AFTER_AGENT,
    ANSWERED,
    BOT_RESOLVED,
    CSAT,
    DECLINED,
    IGNORED,
    NPS,
    SurveyRequest,
)
from bot.surveys.settings import SurveySettings
from bot.surveys.store import SURVEY_FOLLOWUP, NewSurvey, SurveyStore, unhappy
from tests.fakes.slack import FakeSlack

CHANNEL = "C0HANDOFF"
FOLLOWUPS = "C0FOLLOWUP"
NOWHERE = "http://127.0.0.1:9"
NOW = datetime(2026, 11, 20, 12, 0)


def survey(key: str = "wc-1@1700000000", **changes: object) -> NewSurvey:
    values: dict[str, object] = {
        "conversation_key": key, "conversation_id": key.split("@")[0], "customer_key": "sender:wc-1",
        "channel": "socketio", "kind": CSAT, "trigger": BOT_RESOLVED, "intents": ["order_status", "thank"],
    }  # fmt: skip
    values.update(changes)
    return NewSurvey(**values)  # type: ignore[arg-type]


def test_a_conversation_is_asked_once_and_answered_once(store: CustomerStore) -> None:
    surveys = SurveyStore(store)
    assert surveys.ask(survey(), now=NOW) is not None
    assert surveys.ask(survey(kind=NPS)) is None  # a second ask in the same conversation: no-op
    assert surveys.answer("wc-1@1700000000", 5, ["order_status", "thank"]) is True
    assert surveys.answer("wc-1@1700000000", 1) is False  # a double tap, then a change of mind
    assert surveys.decline("wc-1@1700000000") is False and surveys.ignore("wc-1@1700000000") is False
    record = surveys.get("wc-1@1700000000")
    assert record is not None
    assert (record.status, record.score, record.kind) == (ANSWERED, 5, CSAT)
    assert record.asked_at == NOW and record.answered_at is not None
    with store.session() as session:
        assert len(session.scalars(select(SurveyRequest)).all()) == 1


def test_comments_are_redacted_and_only_the_first_counts(store: CustomerStore) -> None:
    surveys = SurveyStore(store)
    surveys.ask(survey())
    assert surveys.comment("wc-1@1700000000", "too early") is False  # no score yet
    surveys.answer("wc-1@1700000000", 2)
    assert surveys.comment("wc-1@1700000000", "slow. my card is 4111 1111 1111 1111") is True
    assert surveys.comment("wc-1@1700000000", "second thoughts") is False
    record = surveys.get("wc-1@1700000000")
    assert record is not None and record.comment is not None
    assert "4111" not in record.comment and record.comment.startswith("slow.")
    assert record.commented_at is not None


def test_declined_and_ignored_surveys_count_no_score(store: CustomerStore) -> None:
    surveys = SurveyStore(store)
    surveys.ask(survey("a@1"))
    surveys.ask(survey("b@1"))
    assert surveys.decline("a@1") and surveys.ignore("b@1")
    assert surveys.answer("a@1", 5) is False and surveys.answer("b@1", 5) is False
    records = [surveys.get("a@1"), surveys.get("b@1")]
    assert [(r.status, r.score) for r in records if r] == [(DECLINED, None), (IGNORED, None)]


def test_nps_is_throttled_for_the_same_customer_across_channels(store: CustomerStore) -> None:
    """Maria answers an NPS survey on the web chat; a week later on X she is asked CSAT instead."""
    maria = store.find_by_identity("twitter", "1400000000000000001")
    assert maria is not None
    store.link_identity(maria.id, "socketio", "wc-maria")  # she proved who she is on the web chat
    web = store.find_by_identity("socketio", "wc-maria")
    assert web is not None and web.id == maria.id
    key = f"customer:{maria.id}"
    surveys = SurveyStore(store)
    surveys.ask(survey("wc-maria@1", customer_key=key, kind=NPS), now=NOW - timedelta(days=7))
    surveys.answer("wc-maria@1", 9)
    everyone_nps = SurveySettings(nps_share=1.0, nps_throttle_days=30)
    x_key = "1400000000000000001@2"
    decide = {
        "last_any": surveys.last_asked(key), "last_nps": surveys.last_asked(key, NPS), "now": NOW,
    }  # fmt: skip
    assert choose_kind(everyone_nps, BOT_RESOLVED, x_key, **decide) == CSAT  # NPS again only after 30 days
    later = {**decide, "now": NOW + timedelta(days=24)}
    assert choose_kind(everyone_nps, BOT_RESOLVED, x_key, **later) == NPS
    only_nps = SurveySettings(after_bot_resolved=NPS, nps_throttle_days=30)
    assert choose_kind(only_nps, BOT_RESOLVED, x_key, **decide) is None
    # Another customer is not throttled by Maria's answer.
    assert surveys.last_asked("sender:someone-else", NPS) is None


def test_switches_sampling_and_the_general_throttle() -> None:
    never = {"last_any": None, "last_nps": None, "now": NOW}
    assert choose_kind(SurveySettings(enabled=False), BOT_RESOLVED, "k@1", **never) is None
    assert choose_kind(SurveySettings(after_agent="none"), AFTER_AGENT, "k@1", **never) is None
    assert choose_kind(SurveySettings(sample_rate=0.0), BOT_RESOLVED, "k@1", **never) is None
    assert choose_kind(SurveySettings(sample_rate=1.0), BOT_RESOLVED, "k@1", **never) == CSAT
    recently = {**never, "last_any": NOW - timedelta(days=1)}
    assert choose_kind(SurveySettings(throttle_days=7), BOT_RESOLVED, "k@1", **recently) is None
    assert choose_kind(SurveySettings(throttle_days=0), BOT_RESOLVED, "k@1", **recently) == CSAT
    sampled = [
        choose_kind(SurveySettings(sample_rate=0.3), BOT_RESOLVED, f"c{i}@1", **never) for i in range(2000)
    ]
    assert 0.25 < sum(kind is not None for kind in sampled) / 2000 < 0.35
    assert fraction("c1@1", "sample") == fraction("c1@1", "sample")  # the same decision on a retry


def test_who_is_unhappy() -> None:
    assert [s for s in range(11) if unhappy(NPS, s)] == [0, 1, 2, 3, 4, 5, 6]
    assert [s for s in range(1, 6) if unhappy(CSAT, s)] == [1, 2]
    assert not unhappy("ces", 1) and not unhappy(NPS, None)


# --- the detractor follow-up --------------------------------------------------------------


def _handoff(store: CustomerStore, conversation: str) -> int:
    record, _ = HandoffStore(store).open_handoff(
        conversation_id=conversation, channel="socketio", customer_id=None, reason="the customer asked",
        packet={"transcript": []}, relay_after=1.0,
    )  # fmt: skip
    return record.id


async def _drain(relay: Relay, handoffs: HandoffStore, seconds: float = 15) -> None:
    """Deliver everything queued (the card first: the follow-ups wait for it in the same queue)."""
    worker = OutboxWorker(handoffs.outbox(), relay.deliver, 0.05)
    ends = time.monotonic() + seconds
    while handoffs.outbox().pending_count():
        assert time.monotonic() < ends, "the outbox did not drain"
        await worker.run_once()
        await asyncio.sleep(0.02)


def _followups(store: CustomerStore) -> list[OutboxItem]:
    with store.session() as session:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.kind == SURVEY_FOLLOWUP)).all())


@pytest.mark.parametrize("destination", ["", FOLLOWUPS])
def test_an_unhappy_answer_after_a_handoff_is_posted_once_to_slack_with_a_link(
    store: CustomerStore, destination: str
) -> None:
    with FakeSlack() as slack:
        slack.add_channel(CHANNEL, "support-handoffs")
        slack.add_channel(FOLLOWUPS, "survey-followups")
        handoffs = HandoffStore(store)
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        relay = Relay(
            handoffs, SlackDesk(client, CHANNEL), RasaAPI(NOWHERE), load_business_settings().handoff
        )
        handoff_id = _handoff(store, "wc-unhappy")
        surveys = SurveyStore(store, followup_channel=destination)
        key = "wc-unhappy@1700000000"
        surveys.ask(survey(key, trigger=AFTER_AGENT, handoff_id=handoff_id, agent_name="Alex"))
        assert surveys.answer(key, 1) is True
        assert surveys.answer(key, 2) is False  # answered twice: one follow-up
        assert surveys.comment(key, "<!channel> nobody *listened* <https://evil.example|click>")
        items = _followups(store)
        assert len(items) == 2  # the answer, then its comment, in the handoff's queue
        record = surveys.get(key)
        assert record is not None and record.followed_up

        asyncio.run(_drain(relay, handoffs))
        assert len(_delivered(store)) == 2
        card = next(m for m in slack.messages(CHANNEL) if m.get("blocks"))
        if destination:
            posts = [m for m in slack.messages(FOLLOWUPS)]
        else:
            posts = [r for r in slack.replies(card["ts"]) if "Unhappy customer" in r["text"]]
        assert len(posts) == 2
        first, second = posts[0]["text"], posts[1]["text"]
        assert "CSAT 1/5" in first and "handled by Alex" in first
        permalink = f"https://fake-workspace.slack.com/archives/{CHANNEL}/p{card['ts'].replace('.', '')}"
        assert f"<{permalink}|open the conversation>" in first
        # The customer's comment is escaped: no broadcast, no link of theirs, no mrkdwn injection.
        assert "<!channel>" not in second and "<https://evil" not in second and "&lt;!channel&gt;" in second


def _delivered(store: CustomerStore) -> list[OutboxItem]:
    return [item for item in _followups(store) if item.status == DELIVERED]


def test_without_slack_the_follow_up_is_in_the_handoffs_inbox_thread(store: CustomerStore) -> None:
    handoffs = HandoffStore(store)
    relay = Relay(handoffs, InboxDesk(handoffs), RasaAPI(NOWHERE), load_business_settings().handoff)
    handoff_id = _handoff(store, "wc-inbox")
    surveys = SurveyStore(store, followup_channel=FOLLOWUPS)  # a Slack channel means nothing to the inbox
    key = "wc-inbox@1700000000"
    surveys.ask(survey(key, kind=NPS, trigger=AFTER_AGENT, handoff_id=handoff_id, agent_name="Sam"))
    surveys.answer(key, 3)
    asyncio.run(_drain(relay, handoffs))
    assert len(_delivered(store)) == 1
    handoff = handoffs.get(handoff_id)
    assert handoff is not None and handoff.card_ts
    texts = [entry["text"] for entry in handoffs.desk_thread(handoff.card_ts)]
    followup = next(text for text in texts if "Unhappy customer" in text)
    assert "NPS 3/10" in followup and f"/inbox#handoff-{handoff_id}" in followup


def test_happy_answers_and_bot_only_conversations_are_not_followed_up(store: CustomerStore) -> None:
    handoff_id = _handoff(store, "wc-happy")
    surveys = SurveyStore(store)
    surveys.ask(survey("wc-happy@1", trigger=AFTER_AGENT, handoff_id=handoff_id))
    surveys.answer("wc-happy@1", 5)
    surveys.ask(survey("wc-bot@1", kind=NPS))  # unhappy, but no person was involved
    surveys.answer("wc-bot@1", 0)
    assert _followups(store) == []
    assert not any(r.followed_up for r in (surveys.get("wc-happy@1"), surveys.get("wc-bot@1")) if r)
