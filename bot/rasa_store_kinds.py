"""Which ``type:`` values in an endpoints file mean "an SQL table we can read".

Why one place: the relay, the metrics, export/erasure and retention all read Rasa's tables
directly, and the shipped endpoints name our faster subclasses (bot/tracker_store.py,
bot/event_broker.py) rather than Rasa's ``SQL``; they store the very same rows.
"""

from __future__ import annotations

from typing import Any

SQL_TYPES = {
    "tracker_store": {"sql", "bot.tracker_store.incrementalsqltrackerstore"},
    "event_broker": {"sql", "bot.event_broker.batchedsqleventbroker"},
}


def is_sql(section: str, store: dict[str, Any]) -> bool:
    """True when ``store`` (the ``section`` of an endpoints file) keeps its rows in SQL."""
    return str(store.get("type", "")).lower() in SQL_TYPES[section]
