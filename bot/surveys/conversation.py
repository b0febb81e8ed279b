"""What a survey needs to know about the conversation, read from the tracker's events (pure).

The conversation is the Rasa session (domain.yml ``session_expiration_time``); its key is
``"<sender_id>@<int(session start)>"`` (the shared contract in bot/surveys/models.py), so
the same customer coming back tomorrow is a new conversation that may be asked again,
while a double "thanks" in one session is asked once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SURVEY_ANSWER_ACTION = "action_survey_answer"
OFFER_ACTION = "action_offer_survey"
PUBLIC_X_PREFIX = "x-mention-"
# The slot holding the pending survey (domain.yml): {"key", "kind", "stage", "asked_at"}.
SURVEY_SLOT = "survey"
# Intents that are small talk: a conversation with only these was not "resolved" by the bot.
SMALL_TALK = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "nlu_fallback"})
# Answers saying the bot could not help: no "bot resolved" survey after them in the same turn.
NOT_RESOLVED = frozenset({
    "utter_troubleshoot_escalate", "utter_handoff_store_down", "utter_store_unavailable", "utter_default",
    "utter_handoff", "utter_offer_human",
})  # fmt: skip

Event = Mapping[str, Any]


def session_start(events: Sequence[Event]) -> float:
    """Timestamp of the latest ``session_started`` event, else of the first event (0 if none)."""
    for event in reversed(events):
        if event.get("event") == "session_started" and _stamp(event) is not None:
            return float(event["timestamp"])
    first = next((_stamp(e) for e in events if _stamp(e) is not None), None)
    return float(first or 0.0)


def conversation_key(sender_id: str, events: Sequence[Event]) -> str:
    return f"{sender_id}@{int(session_start(events))}"


def session_events(events: Sequence[Event]) -> list[Event]:
    """The events of the current session (from its ``session_started`` on)."""
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "session_started":
            return list(events[index:])
    return list(events)


def survey_answer_turns(events: Sequence[Event]) -> set[int]:
    """Indexes of user events that were survey answers (next action ``action_survey_answer``, no undo)."""
    answers: set[int] = set()
    for index, event in enumerate(events):
        if event.get("event") != "user":
            continue
        following = _next_action(events, index)
        if following is None or following[1] != SURVEY_ANSWER_ACTION:
            continue
        after = events[following[0] + 1 : following[0] + 2]
        if after and after[0].get("event") == "undo":
            continue  # the customer changed the subject: a normal question
        answers.add(index)
    return answers


def customer_intents(events: Sequence[Event]) -> list[str]:
    """The customer's intents in this session, in order, without survey answers or system triggers."""
    session = session_events(events)
    skip = survey_answer_turns(session)
    intents = []
    for index, event in enumerate(session):
        if event.get("event") != "user" or index in skip:
            continue
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if name and not str(name).startswith("EXTERNAL_"):
            intents.append(str(name))
    return intents


def bot_helped(intents: Sequence[str]) -> bool:
    """Whether the customer asked for something beyond small talk (a "hi … bye" is not resolved)."""
    return any(intent not in SMALL_TALK for intent in intents)


def answered_unresolved(events: Sequence[Event]) -> bool:
    """Whether the bot's answer since the customer's latest message says it could not help."""
    for event in reversed(events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot" and (event.get("metadata") or {}).get("utter_action") in NOT_RESOLVED:
            return True
    return False


def latest_user_metadata(events: Sequence[Event]) -> dict[str, Any]:
    for event in reversed(events):
        if event.get("event") == "user":
            metadata = event.get("metadata")
            return dict(metadata) if isinstance(metadata, Mapping) else {}
    return {}


def is_public_x(sender_id: str, events: Sequence[Event]) -> bool:
    """A public X reply (a mention answered in its thread, or one moved to DM): never surveyed there."""
    if sender_id.startswith(PUBLIC_X_PREFIX):
        return True
    x = latest_user_metadata(events).get("x")
    return isinstance(x, Mapping) and x.get("kind") == "mention"


def _next_action(events: Sequence[Event], index: int) -> tuple[int, str] | None:
    for later in range(index + 1, len(events)):
        event = events[later]
        if event.get("event") == "user":
            return None
        if event.get("event") == "action":
            return later, str(event.get("name") or "")
    return None


def _stamp(event: Event) -> float | None:
    value = event.get("timestamp")
    return float(value) if isinstance(value, int | float) else None
