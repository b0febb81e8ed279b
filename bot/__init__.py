"""Hearthlink support bot: our code around Rasa (customer store, context, CLI, channels)."""

__version__ = "0.1.0"
