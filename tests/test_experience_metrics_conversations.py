"""Conversations from Rasa events (bot/experience/conversations.py), on events shaped like Rasa 3.6's.

The builders below write what Rasa's tracker store holds (``action`` before the messages the
action sent, ``session_started`` after ``action_session_start``); the last test checks that
shape against Rasa's own ``SQLTrackerStore`` so the fixtures cannot drift from it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.experience.conversations import HandoffRow, conversations_of, sessions
from bot.redact import redact

Event = dict[str, Any]


def ts(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


def start(at: float) -> list[Event]:
    """What Rasa records when a session starts."""
    return [
        action("action_session_start", at),
        {"event": "session_started", "timestamp": at},
        action("action_listen", at),
    ]


def user(text: str, intent: str, at: float, channel: str = "webchat") -> Event:
    return {
        "event": "user",
        "timestamp": at,
        "text": text,
        "input_channel": channel,
        "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text},
    }


def action(name: str, at: float) -> Event:
    return {"event": "action", "timestamp": at, "name": name}


def bot(text: str, at: float, utter: str | None = None, agent: str | None = None) -> Event:
    metadata: dict[str, Any] = {"utter_action": utter} if utter else {}
    if agent:
        metadata = {"agent_id": "U" + agent, "agent_name": agent}
    return {"event": "bot", "timestamp": at, "text": text, "metadata": metadata, "data": {}}


def answer(at: float, name: str, text: str = "Here you go.", delay: float = 1.0) -> list[Event]:
    """The bot runs ``name``, which says ``text`` ``delay`` seconds after ``at``, then listens."""
    return [action(name, at + delay), bot(text, at + delay, utter=name), action("action_listen", at + delay)]


def survey_question(at: float) -> list[Event]:
    return [action("action_offer_survey", at), bot("How likely are you to recommend us? 0-10", at)]


def survey_answer(text: str, intent: str, at: float, channel: str = "webchat") -> list[Event]:
    return [
        user(text, intent, at, channel),
        action("action_survey_answer", at + 0.5),
        bot("Thanks for your feedback!", at + 0.5),
        action("action_listen", at + 0.5),
    ]


def handoff_row(sender: str, at: float, **rest: Any) -> HandoffRow:
    values: dict[str, Any] = {
        "id": 1,
        "conversation_id": sender,
        "channel": "webchat",
        "reason": "the customer asked for a person",
        "status": "resolved",
        "created_at": datetime.fromtimestamp(at, UTC),
    }
    return HandoffRow(**{**values, **rest})


T0 = ts(2026, 11, 2, 10)


def test_survey_answers_are_not_questions_fallbacks_or_unrecognised() -> None:
    events = [
        *start(T0),
        user("where is my order?", "order_status", T0),
        *answer(T0, "action_order_status"),
        *survey_question(T0 + 5),
        *survey_answer("meh", "nlu_fallback", T0 + 60),
    ]
    (conversation,) = conversations_of("web-1", events)
    assert conversation.customer_messages == 1
    assert conversation.intents == ("order_status",)
    assert (conversation.fallbacks, conversation.unrecognised) == (0, ())
    # Resolution time ends at the bot's answer, not at the survey's thank-you.
    assert conversation.last_bot_reply_at == datetime.fromtimestamp(T0 + 1, UTC)


def test_changing_the_subject_after_a_survey_is_a_normal_question() -> None:
    events = [
        *start(T0),
        user("how do returns work", "return_policy", T0),
        *answer(T0, "action_return_policy"),
        *survey_question(T0 + 5),
        user("asdfgh my password is hunter2!!", "nlu_fallback", T0 + 60),
        action("action_survey_answer", T0 + 60.5),
        {"event": "undo", "timestamp": T0 + 60.5},
        *answer(T0 + 61, "action_fallback", "Sorry, could you rephrase?"),
    ]
    (conversation,) = conversations_of("web-1", events)
    assert conversation.customer_messages == 2
    assert conversation.intents == ("return_policy", "nlu_fallback")
    assert conversation.fallbacks == 1
    assert conversation.unrecognised == (redact("asdfgh my password is hunter2!!"),)
    assert "hunter2" not in conversation.unrecognised[0]


def test_sessions_split_on_session_started_and_on_an_hour_of_silence() -> None:
    later = T0 + 3 * 3600
    recorded = [
        *start(T0),
        user("hi", "greet", T0),
        *answer(T0, "utter_greet"),
        *start(later),
        user("hi again", "greet", later),
        *answer(later, "utter_greet"),
    ]
    first, second = conversations_of("web-1", recorded)
    assert (first.key, second.key) == (f"web-1@{int(T0)}", f"web-1@{int(later)}")
    # Without session events (an old tracker): a customer message 61 minutes after the last one.
    bare = [
        user("hi", "greet", T0),
        *answer(T0, "utter_greet"),
        user("still there?", "greet", T0 + 3600),
        *answer(T0 + 3600, "utter_greet"),
        user("hello?", "greet", T0 + 3600 + 3660),
    ]
    assert [len(s) for s in sessions(bare, 60)] == [8, 1]  # exactly 60 minutes is the same session
    assert len(conversations_of("web-1", bare)) == 2


def test_a_session_without_a_customer_message_is_not_a_conversation() -> None:
    events = [
        *start(T0),
        user("/EXTERNAL_handoff_resolved", "EXTERNAL_handoff_resolved", T0),
        *answer(T0, "action_handoff_resolved", "You're back with the assistant."),
    ]
    assert conversations_of("web-1", events) == []
    late_survey = [*start(T0), *survey_answer("9", "nlu_fallback", T0)]
    assert conversations_of("web-1", late_survey) == []


def test_a_handoff_opened_at_once_is_an_agent_only_conversation_with_its_times() -> None:
    requested, claimed, resolved = ts(2026, 11, 6, 19, 30, 1), ts(2026, 11, 9, 8, 30), ts(2026, 11, 9, 9)
    events = [
        *start(T0),
        user("I want a human", "human_handoff", ts(2026, 11, 6, 19, 30)),
        action("action_handoff", requested),
        bot("A person will be with you shortly.", requested),
        {"event": "pause", "timestamp": requested},
        action("action_listen", requested),
        bot("Hi, Sam here", ts(2026, 11, 9, 8, 31), agent="Sam"),
    ]
    row = handoff_row(
        "web-g",
        requested,
        claimed_by_name="Sam",
        claimed_at=datetime.fromtimestamp(claimed, UTC),
        resolved_at=datetime.fromtimestamp(resolved, UTC),
    )
    (conversation,) = conversations_of("web-g", events, handoffs=[row])
    assert not conversation.bot_took_part and conversation.handed_off and not conversation.contained
    handoff = conversation.handoff
    assert handoff is not None and handoff.agent_name == "Sam"
    assert handoff.first_agent_reply_at == datetime(2026, 11, 9, 8, 31, tzinfo=UTC)
    assert conversation.ended_at == datetime(2026, 11, 9, 8, 31, tzinfo=UTC)
    assert conversation.first_bot_reply_at == datetime.fromtimestamp(requested, UTC)


def test_a_rule_that_answers_then_hands_off_is_still_agent_only_but_a_bot_attempt_is_not() -> None:
    canned = [
        *start(T0),
        user("I dispute this charge", "billing_dispute", T0),
        action("utter_billing_dispute", T0 + 1),
        bot("Billing disputes are handled by people.", T0 + 1),
        action("action_handoff", T0 + 1),
    ]
    assert not conversations_of("web-1", canned, handoffs=[handoff_row("web-1", T0 + 1)])[0].bot_took_part
    tried = [
        *start(T0),
        user("blorp", "nlu_fallback", T0),
        *answer(T0, "action_fallback"),
        user("yes a person", "affirm", T0 + 30),
        action("action_handoff", T0 + 31),
    ]
    (conversation,) = conversations_of("web-1", tried, handoffs=[handoff_row("web-1", T0 + 31)])
    assert conversation.bot_took_part and conversation.handed_off


def test_abandoned_mid_flow_and_what_counts_as_confirmed() -> None:
    left = [
        *start(T0),
        user("where is my order", "order_status", T0),
        action("order_status_form", T0 + 1),
        {"event": "active_loop", "timestamp": T0 + 1, "name": "order_status_form"},
        bot("What's your order number?", T0 + 1),
        action("action_listen", T0 + 1),
    ]
    (conversation,) = conversations_of("web-1", left)
    assert conversation.abandoned and conversation.open_loop == "order_status_form"
    assert not conversations_of("web-1", left, handoffs=[handoff_row("web-1", T0 + 2)])[0].abandoned
    finished = [
        *left,
        user("HL-104233", "inform", T0 + 20),
        {"event": "active_loop", "timestamp": T0 + 21, "name": None},
        *answer(T0 + 21, "action_order_status"),
    ]
    assert not conversations_of("web-1", finished)[0].abandoned

    answered = [
        *start(T0),
        user("reset my password", "reset_password", T0),
        *answer(T0, "action_reset_password"),
    ]
    assert not conversations_of("web-1", answered)[0].customer_confirmed
    thanked = [*answered, user("thanks!", "thank", T0 + 30), *answer(T0 + 30, "utter_you_are_welcome")]
    assert conversations_of("web-1", thanked)[0].customer_confirmed
    key = f"web-1@{int(T0)}"
    assert conversations_of("web-1", answered, satisfied={key})[0].customer_confirmed
    fixed = [
        *start(T0),
        user("wifi is down", "connectivity_issue", T0),
        *answer(T0, "action_troubleshoot_result", "Great, glad it's working again!"),
    ]
    fixed[-2]["metadata"] = {"utter_action": "utter_troubleshoot_fixed"}
    assert conversations_of("web-1", fixed)[0].customer_confirmed
    thank_first = [*start(T0), user("thanks", "thank", T0), action("action_listen", T0)]
    assert not conversations_of("web-1", thank_first)[0].customer_confirmed  # the bot never answered


def test_the_customer_store_makes_two_channel_accounts_one_customer() -> None:
    identities = {("webchat", "wc-1"): 7, ("twitter", "1234"): 7}
    web = conversations_of("wc-1", [*start(T0), user("hi", "greet", T0)], identities=identities)[0]
    x = conversations_of("1234", [*start(T0), user("hi", "greet", T0, "twitter")], identities=identities)[0]
    stranger = conversations_of("wc-2", [*start(T0), user("hi", "greet", T0)], identities=identities)[0]
    assert web.customer_key == x.customer_key == "customer:7"
    assert (x.channel, stranger.customer_key) == ("twitter", "sender:wc-2")


def test_writing_again_while_waiting_for_a_person_is_the_same_conversation() -> None:
    asked_at, later = T0 + 1, T0 + 2 * 3600
    events = [
        *start(T0),
        user("I want a human", "human_handoff", T0),
        action("action_handoff", asked_at),
        bot("A person will be with you shortly.", asked_at),
        {"event": "pause", "timestamp": asked_at},
        *start(later),  # Rasa opens a new session after an hour of silence, even while paused
        user("hello?? anyone there", "greet", later),
        action("action_listen", later),
    ]
    waiting = handoff_row("web-1", asked_at, status="waiting")
    (conversation,) = conversations_of("web-1", events, handoffs=[waiting])
    assert (conversation.key, conversation.customer_messages) == (f"web-1@{int(T0)}", 2)
    resolved = handoff_row("web-1", asked_at, resolved_at=datetime.fromtimestamp(T0 + 600, UTC))
    assert len(conversations_of("web-1", events, handoffs=[resolved])) == 2  # resolved before: a new one
