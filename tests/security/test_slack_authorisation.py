"""Slack authorisation, attacked: only our agents, in our workspace and channel, act on a card.

The real worker (relay + Bolt endpoint) and Rasa run; Slack is the fake in tests/fakes/slack/,
which signs every request with the real secret, so each request below passes the signature
check and is refused only by the authorisation (bot/handoff/desks/slack/access.py). The
worker is configured with an agent group and a lead and learns its workspace from
``auth.test`` (tests/support/slack_desk.py lists the people).

Each attack asserts that Slack got a 200 (no retries), the handoff's state in the database is
unchanged, the card and its thread are unchanged and the customer received nothing. "Nothing"
is shown by a positive control: afterwards a real agent acts, and the customer's first news
is that agent's, because the relay delivers a conversation's messages strictly in order.
"""

from __future__ import annotations

import pytest

from bot.handoff.desks.slack import CLAIM, RESOLVE, TRANSCRIPT
from tests.support.slack_desk import CHANNEL, FOREIGN_TEAM, OTHER_CHANNEL, GuardedSlack

# who attacks, how the request is forged (besides the valid signature), whether they are told why
OUTSIDERS = {
    "another workspace (same user id as our agent)": ("UALEX", {"team_id": FOREIGN_TEAM}, False),
    "another channel of our workspace": ("UALEX", {"channel": OTHER_CHANNEL}, False),
    "a single-channel guest in the agent group": ("UGUEST", {}, True),
    "a Slack Connect member of another organisation": ("UPARTNER", {}, True),
    "a full member who is not in the agent group": ("UNOBODY", {}, True),
}
REFUSAL_REASONS = ("foreign-team", "foreign-channel", "guest-or-external", "not-in-agent-group")


@pytest.fixture
def rig(guarded_slack: GuardedSlack) -> GuardedSlack:
    return guarded_slack


def test_clicks_from_outside_the_agents_team_or_channel_are_refused_and_change_nothing(
    rig: GuardedSlack,
) -> None:
    customer, card = rig.open_handoff()
    try:
        card_before, thread_before = rig.card_json(card), rig.slack.replies(card["ts"])
        views_before = len(rig.slack.views())
        heard_before = len(customer.texts())
        told_before = {user: len(rig.slack.ephemerals(user)) for user, _, _ in OUTSIDERS.values()}
        for name, (user, where, _told) in OUTSIDERS.items():
            for action in (CLAIM, RESOLVE, TRANSCRIPT):
                assert rig.click(action, card, user, **where) == 200, (name, action)

        # Requests are handled before Slack gets its answer: everything refused is settled now.
        assert rig.state(card) == ("waiting", None)
        assert rig.card_json(card) == card_before
        assert rig.slack.replies(card["ts"]) == thread_before
        assert len(rig.slack.views()) == views_before  # no transcript (customer data) for outsiders
        for name, (user, _where, told) in OUTSIDERS.items():
            ephemerals = rig.slack.ephemerals(user)[told_before[user] :]
            if told:
                assert len(ephemerals) == 3, name
                assert all("Nothing was changed" in e["text"] for e in ephemerals), name
                assert {e["channel"] for e in ephemerals} == {CHANNEL}
            else:
                assert ephemerals == [], name  # foreign team/channel: ignored, nobody is told

        # Positive control: our agent's claim is the customer's first news since the attacks.
        assert rig.click(CLAIM, card, "UALEX") == 200
        assert "Alex" in customer.wait_for("has joined")
        heard = customer.texts()[heard_before:]
        assert sum("has joined" in text for text in heard) == 1, heard
        assert not any(word in text for text in heard for word in ("Gus", "Pat", "Noa", "back with")), heard
        assert rig.state(card) == ("claimed", "UALEX")

        log = rig.slack.wait_for(lambda: (text := rig.worker_log()) and "not-in-agent-group" in text and text)
        for reason in REFUSAL_REASONS:
            assert f": {reason}" in log, reason
    finally:
        customer.close()


def test_thread_replies_from_outsiders_never_reach_the_customer_and_claim_nothing(rig: GuardedSlack) -> None:
    customer, card = rig.open_handoff()
    try:
        heard_before = len(customer.texts())
        bot_posts = [r for r in rig.slack.replies(card["ts"]) if r.get("bot_id")]
        told_before = {user: len(rig.slack.ephemerals(user)) for user, _, _ in OUTSIDERS.values()}
        attacks = {
            name: f"Outsider reply {i}: please send me your password" for i, name in enumerate(OUTSIDERS)
        }
        for name, (user, where, _told) in OUTSIDERS.items():
            assert rig.reply(card, user, attacks[name], **where) == 200, name

        assert rig.state(card) == ("waiting", None)  # a reply that got through would have claimed it
        for name, (user, _where, told) in OUTSIDERS.items():
            ephemerals = rig.slack.ephemerals(user)[told_before[user] :]
            assert len(ephemerals) == (1 if told else 0), name
            assert all(e["thread_ts"] == card["ts"] for e in ephemerals)
        # The outsiders' messages stay in Slack as they wrote them; the bot posted nothing about them.
        assert [r for r in rig.slack.replies(card["ts"]) if r.get("bot_id")] == bot_posts

        # Positive control: an agent's reply arrives, and nothing of the outsiders' came before it.
        assert rig.reply(card, "USAM", "Hi, Sam here from support.") == 200
        customer.wait_for("Sam here from support")
        heard = customer.texts()[heard_before:]
        assert not any("Outsider reply" in text for text in heard), heard
        assert rig.state(card) == ("claimed", "USAM")
        log = rig.slack.wait_for(
            lambda: (text := rig.worker_log()) and "refused event message" in text and text
        )
        assert "Outsider reply" not in log  # refusals are logged without what was written
    finally:
        customer.close()


def test_only_the_owner_or_a_lead_can_resolve_take_over_or_reply_on_a_claimed_handoff(
    rig: GuardedSlack,
) -> None:
    customer, card = rig.open_handoff()
    try:
        assert rig.click(CLAIM, card, "UALEX") == 200
        customer.wait_for("has joined")
        rig.slack.wait_for(lambda: "Alex" in rig.card_json(card))
        heard_before, told_before = len(customer.texts()), len(rig.slack.ephemerals("USAM"))
        card_before = rig.card_json(card)

        # Sam is an agent, but Alex owns this handoff.
        assert rig.click(RESOLVE, card, "USAM") == 200
        assert rig.click(CLAIM, card, "USAM", stale=True) == 200  # the card before it showed Alex
        assert rig.reply(card, "USAM", "Sam here, I'll take it from now.") == 200
        assert rig.state(card) == ("claimed", "UALEX")
        assert rig.card_json(card) == card_before
        told = rig.slack.ephemerals("USAM")[told_before:]
        assert len(told) == 3 and all("<@UALEX>" in e["text"] for e in told), told
        assert "Not sent to the customer" in told[-1]["text"] and told[-1]["thread_ts"] == card["ts"]

        # Any agent may still read the transcript.
        views_before = len(rig.slack.views())
        assert rig.click(TRANSCRIPT, card, "USAM") == 200
        assert len(rig.slack.views()) == views_before + 1

        # Positive control: the owner's reply is the customer's first news since Sam's attempts.
        assert rig.reply(card, "UALEX", "Alex again: checking that now.") == 200
        first = customer.wait_for("Alex again")
        heard = customer.texts()[heard_before:]
        before_first = heard[: heard.index(first)]
        assert not any("Sam" in text or "back with" in text for text in before_first), heard

        # A lead may resolve someone else's handoff.
        assert rig.click(RESOLVE, card, "ULEAD") == 200
        customer.wait_for("back with the Hearthlink assistant")
        assert rig.state(card)[0] == "resolved"
        assert not any("Sam here" in text for text in customer.texts())
    finally:
        customer.close()
