"""Which counters one Rasa event moves (pure: no I/O, easy to test and to extend)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, NamedTuple

NOT_UNDERSTOOD = "nlu_fallback"


class Count(NamedTuple):
    """One counter increment: ``name`` with a ``label`` ("" when it has none)."""

    name: str
    label: str = ""


# What each counter means, for the Prometheus HELP lines and the README.
DESCRIPTIONS: dict[str, str] = {
    "conversations": "Conversation sessions started",
    "customer_messages": "Messages from customers, by channel",
    "intents": "What customers asked, by top intent",
    "not_understood": "Customer messages the bot did not understand (below the confidence threshold)",
    "bot_messages": "Messages the bot sent",
    "agent_messages": "Messages agents sent from Slack or the inbox",
    "handoffs": "Conversations handed to a person, by reason",
    "handoffs_resolved": "Handoffs an agent resolved (the bot took over again)",
}


def counts_for(event: dict[str, Any]) -> list[Count]:
    """The counters one event moves; empty for events that are not about the customer."""
    kind = event.get("event")
    if kind == "session_started":
        return [Count("conversations")]
    if kind == "user":
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
        text = str(event.get("text") or "")
        if intent.startswith("EXTERNAL_") or text.startswith("/"):
            return []  # the system's own triggers (handoff resolved, timeouts), not the customer
        counts = [Count("customer_messages", str(event.get("input_channel") or "unknown"))]
        if intent:
            counts.append(Count("intents", intent))
        if intent == NOT_UNDERSTOOD:
            counts.append(Count("not_understood"))
        return counts
    if kind == "bot":
        metadata = event.get("metadata") or {}
        agent = metadata.get("agent_id") or metadata.get("agent_name")
        return [Count("agent_messages" if agent else "bot_messages")]
    if kind == "slot" and event.get("name") == "handoff_reason" and event.get("value"):
        return [Count("handoffs", str(event["value"]))]
    if kind == "resume":
        return [Count("handoffs_resolved")]
    return []


def event_day(event: dict[str, Any]) -> str:
    """The UTC day an event happened (its Rasa timestamp), as YYYY-MM-DD."""
    stamp = event.get("timestamp")
    moment = datetime.fromtimestamp(float(stamp), UTC) if stamp else datetime.now(UTC)
    return moment.date().isoformat()


def event_key(sender_id: str, event: dict[str, Any]) -> str:
    """A stable id for an event, so one delivered twice is counted once."""
    identity = {k: event.get(k) for k in ("event", "timestamp", "name", "text", "value")}
    raw = json.dumps([sender_id, identity], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()
