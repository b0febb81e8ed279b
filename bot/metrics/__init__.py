"""Support metrics counted from Rasa's event broker (run by the worker, ``python -m bot worker``).

What a support lead asks: how many conversations, how many customer messages per
channel, what customers ask (intents), how often the bot did not understand, how often a
person was needed and why, and how much agents wrote. ``counting`` maps events to
counters, ``store`` keeps them per day in our database, ``service`` consumes the broker
and serves them over HTTP.
"""

from bot.metrics.counting import Count, counts_for
from bot.metrics.store import MetricsStore

__all__ = ["Count", "MetricsStore", "counts_for"]
