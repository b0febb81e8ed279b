"""How angry a customer's message is, as the NLU pipeline scored it.

Its own module, free of Rasa imports, because two processes read the score: the dialogue
policy inside Rasa (bot/policies.py) and the handoff actions on the action server, which
depends on rasa-sdk only and must not load Rasa's policy code to read one number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Intents that already lead to a person (the customer asked, or accepted our offer):
# their anger is no separate reason to hand off.
LEFT_TO_RULES = frozenset({"human_handoff", "affirm"})


def anger_of(parse_data: Mapping[str, Any]) -> float:
    """Anger score the SentimentAnalyzer attached to a parsed message (0 if none)."""
    sentiment = parse_data.get("sentiment") or {}
    try:
        return float(sentiment.get("anger", 0.0))
    except (TypeError, ValueError, AttributeError):
        return 0.0
