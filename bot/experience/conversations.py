"""One sender's Rasa events → conversations, each a frozen record of facts (pure).

A conversation is one Rasa session (the survey table's contract, bot/surveys/models.py):
it starts at a ``session_started`` event (the ``action_session_start`` just before it goes
with it), or — for trackers recorded without session events — at a customer message that
comes more than ``session_expiration_time`` (domain.yml, 60 minutes) after the previous
one; a session that starts while the sender's handoff is still open continues the
conversation of that handoff (the customer is waiting for a person, not back). Its key is
``"<sender>@<int(session start)>"``, the survey table's ``conversation_key``.

Only the customer's own messages count as customer messages: the system's triggers
(``EXTERNAL_*`` intents, ``/intent`` texts) and survey answers are left out (a user event
whose next action is ``action_survey_answer`` with no ``undo`` after it). A session with
no customer message (a survey answered late, a handoff notice) is not a conversation.
Every definition here is repeated in docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.experience.periods import as_utc, from_timestamp
from bot.redact import anonymise

FALLBACK_INTENT = "nlu_fallback"
SURVEY_ANSWER_ACTION = "action_survey_answer"
HANDOFF_ACTION = "action_handoff"
SURVEY_ACTIONS = frozenset({"action_offer_survey", SURVEY_ANSWER_ACTION})
# Intents that, after the bot has answered, mean "that solved it".
CONFIRMING_INTENTS = frozenset({"thank"})
# Responses the bot gives only when the customer said its fix worked.
CONFIRMING_RESPONSES = frozenset({"utter_troubleshoot_fixed", "utter_knowledge_helped"})
# Actions that are Rasa's or the handoff's bookkeeping, not the bot answering.
BOOKKEEPING_ACTIONS = frozenset(
    {
        "action_listen",
        "action_session_start",
        "action_unlikely_intent",
        "action_deactivate_loop",
        "action_handoff_resolved",
        "action_handoff_unanswered",
        "action_offer_survey",
        SURVEY_ANSWER_ACTION,
    }
)
OPEN_STATUSES = frozenset({"waiting", "claimed"})  # bot.handoff.states.ACTIVE
HANDOFF_MATCH_SLACK_SECONDS = 5.0  # a handoff row written a moment before its session's first event


@dataclass(frozen=True)
class HandoffRow:
    """A ``handoffs`` row as the metrics need it (times aware UTC)."""

    id: int
    conversation_id: str
    channel: str
    reason: str
    status: str
    created_at: datetime
    claimed_at: datetime | None = None
    resolved_at: datetime | None = None
    claimed_by_name: str | None = None
    resolved_by_name: str | None = None


@dataclass(frozen=True)
class HandoffFacts:
    """The first handoff of a conversation: when it was asked for, claimed, answered, resolved."""

    id: int
    reason: str
    status: str
    requested_at: datetime
    claimed_at: datetime | None
    first_agent_reply_at: datetime | None  # first agent message in the tracker after the request
    resolved_at: datetime | None
    agent_name: str | None  # who claimed it (else who answered first, else who resolved it)


@dataclass(frozen=True)
class Conversation:
    """The facts of one conversation; everything the figures are computed from."""

    key: str
    sender_id: str
    channel: str
    customer_key: str
    started_at: datetime  # the first customer message
    ended_at: datetime  # the last message of anyone (customer, bot, agent) in the session
    first_bot_reply_at: datetime | None  # the bot's (not an agent's) first message after the customer's
    last_bot_reply_at: datetime | None
    intents: tuple[str, ...]  # distinct, in the order first seen
    customer_messages: int
    fallbacks: int  # customer messages with intent nlu_fallback
    unrecognised: tuple[str, ...]  # those messages' texts, redacted
    open_loop: str | None  # the form still active when the session ended
    bot_took_part: bool
    customer_confirmed: bool
    handoff: HandoffFacts | None
    handoffs: int = 0  # handoffs opened in the conversation (the first is ``handoff``)

    @property
    def handed_off(self) -> bool:
        return self.handoff is not None

    @property
    def abandoned(self) -> bool:
        """Left mid-flow: a form was still open at the end and no person was asked for."""
        return self.open_loop is not None and self.handoff is None

    @property
    def contained(self) -> bool:
        """The bot took part and no handoff was opened."""
        return self.bot_took_part and self.handoff is None


def conversation_key(sender_id: str, session_start: float) -> str:
    """The survey table's ``conversation_key`` for a session that started at ``session_start``."""
    return f"{sender_id}@{int(session_start)}"


def customer_key(channel: str, sender_id: str, identities: Mapping[tuple[str, str], int]) -> str:
    """``customer:<id>`` when the customer store knows this channel account, else ``sender:<id>``."""
    customer_id = identities.get((channel, sender_id))
    return f"customer:{customer_id}" if customer_id is not None else f"sender:{sender_id}"


def sessions(events: Sequence[dict[str, Any]], expiration_minutes: float) -> list[list[dict[str, Any]]]:
    """The events split into Rasa sessions (see the module docstring), in timestamp order."""
    ordered = sorted((e for e in events if _stamp(e) is not None), key=lambda e: _stamp(e) or 0.0)
    result: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    last_user: float | None = None
    for event in ordered:
        kind, stamp = event.get("event"), _stamp(event) or 0.0
        starts = kind == "session_started" or (
            kind == "action" and event.get("name") == "action_session_start"
        )
        expired = kind == "user" and last_user is not None and stamp - last_user > expiration_minutes * 60
        if (starts and not _only_session_start(current)) or expired:
            result.append(current)
            current, last_user = [], None
        current.append(event)
        if kind == "user":
            last_user = stamp
    if current:
        result.append(current)
    return [session for session in result if session]


def conversations_of(
    sender_id: str,
    events: Sequence[dict[str, Any]],
    *,
    handoffs: Sequence[HandoffRow] = (),
    identities: Mapping[tuple[str, str], int] | None = None,
    satisfied: Collection[str] = (),
    expiration_minutes: float = 60,
) -> list[Conversation]:
    """Every conversation of one sender; ``satisfied``: keys of conversations with a satisfied survey."""
    split = _through_handoffs(sessions(events, expiration_minutes), handoffs)
    starts = [_stamp(session[0]) or 0.0 for session in split]
    by_session: dict[int, list[HandoffRow]] = {}
    for row in sorted(handoffs, key=lambda r: r.created_at):
        by_session.setdefault(_session_of(row.created_at.timestamp(), starts), []).append(row)
    agent_messages = [e for e in sorted(events, key=lambda e: _stamp(e) or 0.0) if _is_agent_message(e)]
    found = []
    for index, session in enumerate(split):
        conversation = _conversation(
            sender_id, session, by_session.get(index, []), agent_messages, identities or {}, satisfied
        )
        if conversation is not None:
            found.append(conversation)
    return found


def _conversation(
    sender_id: str,
    session: list[dict[str, Any]],
    handoffs: list[HandoffRow],
    agent_messages: list[dict[str, Any]],
    identities: Mapping[tuple[str, str], int],
    satisfied: Collection[str],
) -> Conversation | None:
    turns = _turns(session)
    customer = [user for user, _ in turns if _is_customer_message(user)]
    if not customer:
        return None
    marks = [e for e in session if e.get("event") == "session_started"]  # several: joined through a handoff
    key = conversation_key(sender_id, _stamp((marks or session)[0]) or 0.0)
    channel = str(customer[0].get("input_channel") or "unknown")
    started = _stamp(customer[0]) or 0.0
    facts = _handoff_facts(handoffs[0], agent_messages) if handoffs else None
    handoff_marks = [
        _stamp(e) or 0.0 for e in session if e.get("event") == "action" and e.get("name") == HANDOFF_ACTION
    ]
    if facts is not None:
        handoff_marks.append(facts.requested_at.timestamp())
    handoff_at = min(handoff_marks, default=None)
    bot_messages = _bot_messages(session)
    replies = [e for e in bot_messages if (_stamp(e) or 0.0) >= started]
    said = [e for e in session if e.get("event") in ("user", "bot")]
    intents = [_intent(user) for user in customer]
    fallbacks = [user for user in customer if _intent(user) == FALLBACK_INTENT]
    bot_turns = [
        index
        for index, (user, actions) in enumerate(turns)
        if _is_customer_message(user)
        and _bot_answered(actions)
        and (handoff_at is None or (_stamp(user) or 0.0) < handoff_at)
    ]
    return Conversation(
        key=key,
        sender_id=sender_id,
        channel=channel,
        customer_key=customer_key(channel, sender_id, identities),
        started_at=from_timestamp(started),
        ended_at=from_timestamp(max(_stamp(e) or 0.0 for e in said)),
        first_bot_reply_at=from_timestamp(_stamp(replies[0]) or 0.0) if replies else None,
        last_bot_reply_at=from_timestamp(_stamp(replies[-1]) or 0.0) if replies else None,
        intents=tuple(dict.fromkeys(intent for intent in intents if intent)),
        customer_messages=len(customer),
        fallbacks=len(fallbacks),
        unrecognised=tuple(anonymise(str(user.get("text") or "")).strip() for user in fallbacks),
        open_loop=_open_loop(session),
        bot_took_part=bool(bot_turns),
        customer_confirmed=key in satisfied or _confirmed(turns, bot_turns, bot_messages),
        handoff=facts,
        handoffs=len(handoffs),
    )


def _bot_messages(session: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bot's own messages (not an agent's), without the survey's question and thank-you.

    Rasa logs an action's ``ActionExecuted`` before the messages it sent, so a bot message
    belongs to the latest action before it.
    """
    found, action = [], None
    for event in session:
        if event.get("event") == "action":
            action = event.get("name")
        elif event.get("event") == "bot" and not _is_agent_message(event) and action not in SURVEY_ACTIONS:
            found.append(event)
    return found


def _through_handoffs(
    split: list[list[dict[str, Any]]], handoffs: Sequence[HandoffRow]
) -> list[list[dict[str, Any]]]:
    """Sessions joined while a handoff is open: a customer who writes again after an hour of
    waiting for a person is still in the same conversation, not back with a new one."""
    spans = [(row.created_at.timestamp(), _open_until(row)) for row in handoffs]
    merged: list[list[dict[str, Any]]] = []
    for session in split:
        first = _stamp(session[0]) or 0.0
        if merged and any(opened < first < until for opened, until in spans):
            merged[-1] = merged[-1] + session
        else:
            merged.append(session)
    return merged


def _open_until(row: HandoffRow) -> float:
    """When a handoff stopped holding the conversation: resolved, or still open (waiting, claimed)."""
    if row.resolved_at is not None:
        return as_utc(row.resolved_at).timestamp()
    return float("inf") if row.status in OPEN_STATUSES else as_utc(row.created_at).timestamp()


def _turns(session: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(user event, the events after it until the next user event) for each user event."""
    turns: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for event in session:
        if event.get("event") == "user":
            turns.append((event, []))
        elif turns:
            turns[-1][1].append(event)
    return [(user, after) for user, after in turns if not _is_survey_answer(after)]


def _is_survey_answer(after: list[dict[str, Any]]) -> bool:
    actions = [e for e in after if e.get("event") == "action" and e.get("name") != "action_listen"]
    if not actions or actions[0].get("name") != SURVEY_ANSWER_ACTION:
        return False
    answered = after.index(actions[0])
    return not any(e.get("event") == "undo" for e in after[answered + 1 :])


def _is_customer_message(user: dict[str, Any]) -> bool:
    """A message the customer typed (not a system trigger; survey answers are dropped in _turns)."""
    intent = _intent(user) or ""
    return not intent.startswith("EXTERNAL_") and not str(user.get("text") or "").startswith("/")


def _bot_answered(actions: list[dict[str, Any]]) -> bool:
    """The bot acted on this turn and the turn did not go (straight) to a person."""
    names = [str(e.get("name")) for e in actions if e.get("event") == "action"]
    if HANDOFF_ACTION in names:
        return False
    return any(name not in BOOKKEEPING_ACTIONS for name in names)


def _confirmed(
    turns: list[tuple[dict[str, Any], list[dict[str, Any]]]],
    bot_turns: list[int],
    bot_messages: list[dict[str, Any]],
) -> bool:
    """A ``thank`` after a turn the bot answered, or the bot's "glad it works" after its fix."""
    if any(_utter_action(e) in CONFIRMING_RESPONSES for e in bot_messages):
        return True
    if not bot_turns:
        return False
    first_answered = bot_turns[0]
    return any(
        _is_customer_message(user) and _intent(user) in CONFIRMING_INTENTS
        for user, _ in turns[first_answered + 1 :]
    )


def _open_loop(session: list[dict[str, Any]]) -> str | None:
    loop: str | None = None
    for event in session:
        if event.get("event") == "active_loop":
            loop = event.get("name") or None
        elif event.get("event") == "restart":
            loop = None
    return loop


def _handoff_facts(row: HandoffRow, agent_messages: list[dict[str, Any]]) -> HandoffFacts:
    requested = as_utc(row.created_at)
    replies = [e for e in agent_messages if (_stamp(e) or 0.0) >= requested.timestamp()]
    first = replies[0] if replies else None
    replier = (first.get("metadata") or {}).get("agent_name") if first else None
    return HandoffFacts(
        id=row.id,
        reason=row.reason,
        status=row.status,
        requested_at=requested,
        claimed_at=as_utc(row.claimed_at) if row.claimed_at else None,
        first_agent_reply_at=from_timestamp(_stamp(first) or 0.0) if first else None,
        resolved_at=as_utc(row.resolved_at) if row.resolved_at else None,
        agent_name=row.claimed_by_name or (str(replier) if replier else None) or row.resolved_by_name,
    )


def _session_of(stamp: float, starts: list[float]) -> int:
    """Index of the session a handoff opened at ``stamp`` belongs to (the last one started by then)."""
    index = 0
    for position, start in enumerate(starts):
        if start <= stamp + HANDOFF_MATCH_SLACK_SECONDS:
            index = position
    return index


def _only_session_start(current: list[dict[str, Any]]) -> bool:
    return all(e.get("event") == "action" and e.get("name") == "action_session_start" for e in current)


def _is_agent_message(event: dict[str, Any]) -> bool:
    if event.get("event") != "bot":
        return False
    metadata = event.get("metadata") or {}
    return bool(metadata.get("agent_id") or metadata.get("agent_name"))


def _utter_action(event: dict[str, Any]) -> str | None:
    return (event.get("metadata") or {}).get("utter_action") or (event.get("data") or {}).get("utter_action")


def _intent(user: dict[str, Any]) -> str | None:
    return ((user.get("parse_data") or {}).get("intent") or {}).get("name")


def _stamp(event: dict[str, Any]) -> float | None:
    try:
        return float(event["timestamp"])
    except (KeyError, TypeError, ValueError):
        return None
