"""Reading what the bot missed from the stored conversations (the only I/O of the review's input).

Where it is: Rasa's tracker store (``events`` table; ``.data/tracker.db`` in the embedded
default, the URL from the endpoints file through :func:`bot.retention.rasa_tables.rasa_stores`)
holds every message, the intent it was parsed as, and the agents' replies during a handoff
(bot/handoff/rasa_api.py records each as a ``bot`` event with the agent in its metadata);
our database (bot/db.py) holds the handoffs (bot/handoff/models.py). Conversations are
split exactly as the report splits them (:func:`bot.experience.conversations.conversations_of`),
so "a conversation" means the same in the report, the digest and this review.

What counts as missed: the conversation's *topic message*, its first customer message that is
more than small talk ("hi", "thanks", "a person please" say nothing about the topic), was
not understood (intent ``nlu_fallback``) or was taken as not our business (``out_of_scope``),
or the conversation was handed off to a person. A message answered from the help center
(``knowledge_question``) was understood.

Customer and agent text is anonymised (bot/redact.py ``anonymise``: secrets, emails, order
and phone numbers) as it is read: nothing personal reaches the embeddings, the review file
or the digest, and "where is HL-100231" and "where is HL-100982" become one question.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from bot.experience.conversations import Conversation, conversations_of
from bot.experience.tracker_events import handoffs_of, tracker_events
from bot.redact import anonymise

MISSED_INTENTS = frozenset({"nlu_fallback", "out_of_scope"})
# First messages that say nothing about what the customer wants.
SMALL_TALK = frozenset({
    "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "human_handoff", "help", "stop",
    "already_done",
})  # fmt: skip
RESOLVED = "resolved"
_VARIABLE = re.compile(r"\\\{\w+\\\}")  # a {variable} in re.escape()d response text


class ReviewStoreError(RuntimeError):
    """The stored conversations cannot be read; the message names the setting and the fix."""


@dataclass(frozen=True)
class Miss:
    """The topic message of one missed conversation, anonymised, and what people did about it."""

    conversation: str  # bot.experience.conversations.conversation_key
    text: str
    intent: str | None
    handed_off: bool
    resolved_by_agent: bool  # a person resolved the handoff
    agent_replies: tuple[str, ...] = ()  # the agents' own words to the customer, anonymised
    at: float = 0.0  # when the customer wrote it (Unix time)


@dataclass(frozen=True)
class StoredMisses:
    conversations: int  # every conversation that started in the window
    misses: tuple[Miss, ...]


def require_tracker_table(url: str, endpoints: Path) -> None:
    """Fail with the fix when the tracker store is a SQLite file that does not exist.

    Opening a missing SQLite file would create an empty one and report "no conversations",
    which hides a wrong ``SUPPORTBOT_DATA_DIR`` or ``--endpoints``.
    """
    if not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    if not path.is_file():
        raise ReviewStoreError(
            f"no stored conversations: the tracker store {path} ({endpoints.name} → tracker_store, in "
            "SUPPORTBOT_DATA_DIR) does not exist. Run the bot first (python -m bot run) so conversations "
            "are stored, set SUPPORTBOT_DATA_DIR to the directory the bot runs with, or pass "
            "--endpoints FILE (the endpoints file Rasa runs with)"
        )


def stored_misses(
    tracker_url: str,
    database_url: str,
    start: datetime,
    end: datetime,
    *,
    domain_file: Path,
    expiration_minutes: float = 60.0,
    progress: Callable[[str], None] = lambda _line: None,
) -> StoredMisses:
    """The missed conversations that started in [``start``, ``end``)."""
    events = tracker_events(tracker_url, start, end)
    progress(f"read the events of {len(events):,} senders")
    handoffs: dict[str, list[Any]] = {}
    for row in handoffs_of(database_url, events, start, end):
        handoffs.setdefault(row.conversation_id, []).append(row)
    templates = bot_texts(domain_file)
    conversations, misses = 0, []
    for sender in sorted(events):
        sender_events = sorted(events[sender], key=lambda e: float(e.get("timestamp") or 0.0))
        found = conversations_of(
            sender, sender_events, handoffs=handoffs.get(sender, ()), expiration_minutes=expiration_minutes
        )
        for conversation in found:
            if not start <= conversation.started_at < end:
                continue
            conversations += 1
            miss = missed(conversation, sender_events, templates)
            if miss is not None:
                misses.append(miss)
    return StoredMisses(conversations, tuple(misses))


def missed(
    conversation: Conversation, events: list[dict[str, Any]], templates: Iterable[re.Pattern[str]] = ()
) -> Miss | None:
    """The conversation's topic message as a :class:`Miss`, or None when the bot handled it."""
    topic = topic_message(conversation, events)
    if topic is None:
        return None
    intent = ((topic.get("parse_data") or {}).get("intent") or {}).get("name")
    facts = conversation.handoff
    if intent not in MISSED_INTENTS and facts is None:
        return None
    text = " ".join(anonymise(str(topic.get("text") or "")).split())
    if not text:
        return None
    resolved = facts is not None and facts.status == RESOLVED
    replies = agent_replies(events, facts.id, facts.requested_at.timestamp(), templates) if facts else ()
    stamp = float(topic.get("timestamp") or 0.0)
    return Miss(conversation.key, text, intent, facts is not None, resolved, replies, stamp)


def topic_message(conversation: Conversation, events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The conversation's first customer message beyond small talk (None: only small talk)."""
    begins = conversation.started_at.timestamp() - 1e-3
    ends = conversation.ended_at.timestamp() + 1e-3
    for event in events:
        stamp = float(event.get("timestamp") or 0.0)
        if event.get("event") != "user" or not begins <= stamp <= ends:
            continue
        text = str(event.get("text") or "")
        intent = str(((event.get("parse_data") or {}).get("intent") or {}).get("name") or "")
        if text.startswith("/") or intent.startswith("EXTERNAL_") or intent in SMALL_TALK:
            continue
        return event
    return None


def agent_replies(
    events: list[dict[str, Any]], handoff_id: int, since: float, templates: Iterable[re.Pattern[str]] = ()
) -> tuple[str, ...]:
    """What the agents wrote to the customer in this handoff, without the relay's own notices.

    The relay sends "Alex from our support team has joined" and "still looking into it" with
    the agent in the metadata too; those are the bot's texts (domain.yml), not an answer.
    """
    patterns = list(templates)
    found: list[str] = []
    for event in events:
        metadata = event.get("metadata") or {}
        if event.get("event") != "bot" or not (metadata.get("agent_name") or metadata.get("agent_id")):
            continue
        if metadata.get("handoff_id") not in (None, handoff_id):
            continue
        if float(event.get("timestamp") or 0.0) < since:
            continue
        text = " ".join(str(event.get("text") or "").split())
        if not text or any(pattern.fullmatch(text) for pattern in patterns):
            continue
        cleaned = anonymise(text)
        if cleaned not in found:
            found.append(cleaned)
    return tuple(found)


def bot_texts(domain_file: Path) -> list[re.Pattern[str]]:
    """Every response text of the domain as a pattern ({variables} match anything)."""
    domain = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    patterns = []
    for variants in (domain.get("responses") or {}).values():
        for variant in variants or []:
            text = " ".join(str((variant or {}).get("text") or "").split())
            if text:
                patterns.append(re.compile(_VARIABLE.sub(".+?", re.escape(text)), re.DOTALL))
    return patterns
