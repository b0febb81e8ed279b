"""The card's history: the customer's earlier handoffs (linked to their threads) and last survey answer.

Built from real tables (handoffs, survey_requests) through the real stores, then rendered by
both desks; customer-written text (reasons, the survey comment) stays inert on Slack.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from bot.context import build_context_packet
from bot.customers import CustomerStore
from bot.handoff.desks import CardState
from bot.handoff.desks.inbox import render
from bot.handoff.desks.slack import card_blocks
from bot.handoff.desks.slack.history import thread_link
from bot.handoff.store import HandoffStore
from bot.surveys.models import AFTER_AGENT, CSAT, NPS
from bot.surveys.store import NewSurvey, SurveyStore
from tests.support.trackers import user
from tests.test_handoff_blocks import assert_within_limits, maria_packet

ATTACK = "<!channel> call me <https://evil.example|x> at maria.lopez@example.com"
ARCHIVE_LINK = re.compile(r"<https://slack\.com/archives/C0TEAM1/p\d+\|[^<>|]+>")


def _handoff(handoffs: HandoffStore, customer_id: int | None, conversation: str, reason: str) -> int:
    record, opened = handoffs.open_handoff(
        conversation_id=conversation, channel="rest", customer_id=customer_id,
        reason=reason, packet={}, relay_after=0.0,
    )  # fmt: skip
    assert opened
    return record.id


def _survey(surveys: SurveyStore, key: str, customer_id: int, kind: str, score: int, when: datetime) -> None:
    surveys.ask(
        NewSurvey(
            conversation_key=key, conversation_id=key, customer_key=f"customer:{customer_id}",
            channel="rest", kind=kind, trigger=AFTER_AGENT, intents=[],
        ),
        now=when,
    )  # fmt: skip
    assert surveys.answer(key, score, now=when)


def maria_with_history(store: CustomerStore) -> tuple[dict, list[int]]:
    """Maria had 7 handoffs (one on Slack, claimed and resolved), answered two surveys; James one handoff."""
    maria = store.find_by_identity("rest", "maria")
    james = store.find_by_identity("rest", "james")
    handoffs = HandoffStore(store)
    ids = [_handoff(handoffs, maria.id, f"maria-old-{n}", f"old question {n}") for n in range(6)]
    ids.append(_handoff(handoffs, maria.id, "maria-old-6", ATTACK))
    handoffs.set_card(ids[-1], "C0TEAM1", "1700000000.123456")
    handoffs.claim(ids[-1], "U1", "Alex")
    handoffs.resolve(ids[-1], "Alex")
    _handoff(handoffs, james.id, "james-old", "James's own problem")

    surveys = SurveyStore(store)
    _survey(surveys, "maria-old-1@1", maria.id, NPS, 9, datetime(2026, 10, 1, 9, 0))
    _survey(surveys, "maria-old-6@1", maria.id, CSAT, 2, datetime(2026, 11, 3, 10, 0))
    assert surveys.comment("maria-old-6@1", ATTACK)
    surveys.ask(  # asked later but never answered: not the last *answer*
        NewSurvey("maria-now@1", "maria-now", f"customer:{maria.id}", "rest", CSAT, AFTER_AGENT, []),
        now=datetime(2026, 11, 20),
    )
    packet = build_context_packet(
        conversation_id="maria", channel="rest", events=[user("a person please", "human_handoff", 0.9)],
        slots={}, reason="asked", store=store,
    )  # fmt: skip
    return json.loads(json.dumps(packet.to_dict())), ids


def test_packet_carries_the_latest_handoffs_and_the_last_answered_survey(store: CustomerStore) -> None:
    data, ids = maria_with_history(store)

    earlier = data["earlier_handoffs"]
    assert [h["id"] for h in earlier] == list(reversed(ids))[:5]  # newest first, bounded, Maria's only
    latest = earlier[0]
    assert latest["status"] == "resolved" and latest["agent"] == "Alex"
    assert latest["desk_channel"] == "C0TEAM1" and latest["card_ts"] == "1700000000.123456"
    assert latest["created_at"] and latest["team"] is None
    assert earlier[1]["reason"] == "old question 5" and earlier[1]["card_ts"] is None

    survey = data["last_survey"]
    assert survey["kind"] == CSAT and survey["score"] == 2
    assert survey["answered_at"].startswith("2026-11-03")
    assert "maria.lopez@example.com" not in survey["comment"] and "[email]" in survey["comment"]
    assert len(json.dumps({"h": earlier, "s": survey})) < 3000  # bounded, stored with every handoff


def test_new_customer_and_customer_without_history(store: CustomerStore) -> None:
    stranger = build_context_packet(
        conversation_id="someone", channel="rest", events=[], slots={}, reason="asked", store=store
    ).to_dict()
    assert stranger["earlier_handoffs"] == [] and stranger["last_survey"] is None
    maria = build_context_packet(
        conversation_id="maria", channel="rest", events=[], slots={}, reason="asked", store=store
    ).to_dict()
    assert maria["earlier_handoffs"] == [] and maria["last_survey"] is None
    blocks = card_blocks(maria, CardState(1, "waiting"))
    assert "Earlier handoffs" not in json.dumps(blocks) and "Last survey" not in json.dumps(blocks)
    assert not any(
        fact["label"] in ("Earlier handoffs", "Last survey")
        for fact in render.facts(maria, CardState(1, "waiting"))
    )


def test_slack_card_links_threads_and_keeps_customer_text_inert(store: CustomerStore) -> None:
    data, ids = maria_with_history(store)
    blocks = card_blocks(data, CardState(99, "waiting"), new=True)
    history = next(
        b["text"]["text"] for b in blocks if "*Earlier handoffs*" in b.get("text", {}).get("text", "")
    )
    lines = history.split("\n")

    assert lines[0] == "*Earlier handoffs*"
    assert lines[1].startswith("• <https://slack.com/archives/C0TEAM1/p1700000000123456|")
    assert f"(#{ids[-1]})>" in lines[1] and " · Resolved · Alex — " in lines[1]
    assert lines[2].startswith("• ") and lines[2].endswith(f"(#{ids[-2]}) · Waiting — old question 5")
    assert "<" not in lines[2]  # no card posted for it: no link
    assert lines[-1].startswith("*Last survey:* CSAT 2/5 on 3 Nov 2026 — “")
    assert len(lines) == 1 + 5 + 1

    # The only link anywhere is the archive link we built; the attack text is shown, inert.
    dumped = json.dumps(blocks, ensure_ascii=False)
    assert len(ARCHIVE_LINK.findall(dumped)) == 1
    rest = ARCHIVE_LINK.sub("", history)
    assert "<" not in rest and ">" not in rest
    assert "<!channel>" not in dumped and "<https://evil" not in dumped and "@channel" not in dumped
    assert "&lt;https://evil.example|x&gt;" in rest.replace("\u200b", "").replace("\u2060", "")


def test_inbox_shows_the_same_in_plain_text(store: CustomerStore) -> None:
    data, ids = maria_with_history(store)
    facts = {fact["label"]: fact["value"] for fact in render.facts(data, CardState(99, "waiting"))}

    earlier = facts["Earlier handoffs"].split("; ")
    assert len(earlier) == 5
    assert earlier[0].endswith(f"(/inbox#handoff-{ids[-1]})") and " · resolved · Alex — " in earlier[0]
    assert "<!channel> call me <https://evil.example|x>" in earlier[0]  # plain text: the page shows text
    assert earlier[1].endswith(f"old question 5 (/inbox#handoff-{ids[-2]})")
    assert facts["Last survey"].startswith("CSAT 2/5 on 3 Nov 2026 — “<!channel> call me")
    assert "maria.lopez@example.com" not in facts["Last survey"]


def test_thread_link_only_from_slack_ids() -> None:
    assert (
        thread_link("C0TEAM1", "1700000000.123456") == "https://slack.com/archives/C0TEAM1/p1700000000123456"
    )
    for channel, ts in [
        (None, "1700000000.123456"), ("C0TEAM1", None), ("C1|x> <!channel", "1700000000.1"),
        ("C0TEAM1", "1700000000.1>|<!here"), ("inbox", "1700000000.123456"),
    ]:  # fmt: skip
        assert thread_link(channel, ts) is None


def test_long_history_stays_within_block_kit_limits() -> None:
    earlier = [
        {"id": n, "created_at": f"2026-11-0{n}T10:00:00", "reason": f"{ATTACK} " * 200, "status": "resolved",
         "team": "t" * 500, "agent": "A" * 500, "desk_channel": "C0TEAM1", "card_ts": f"170000000{n}.000100"}
        for n in range(1, 9)
    ]  # fmt: skip
    survey = {"kind": "nps", "score": 3, "answered_at": "2026-11-03T10:00:00", "comment": "😀 <!here> " * 500}
    packet = maria_packet(transcript=[], earlier_handoffs=earlier, last_survey=survey)
    blocks = card_blocks(packet, CardState(99, "waiting"), transcript_lines=200)
    assert_within_limits(blocks, 50)
    history = next(
        b["text"]["text"] for b in blocks if "*Earlier handoffs*" in b.get("text", {}).get("text", "")
    )
    assert len(ARCHIVE_LINK.findall(history)) == 5  # at most five, every link whole
    assert "*Last survey:* NPS 3/10 on 3 Nov 2026 — “😀 &lt;!here&gt;" in history.replace("\u2060", "")
    assert "<!here>" not in history and "@here" not in history
