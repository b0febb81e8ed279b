"""Small, documented patches that make the Rasa process do less work per message.

Why a package: each patch replaces one piece of Rasa 3.6 that repeats work on every message
(profiled in bench/README.md, "Where a message's time goes"); keeping them here, one module
each with its measurement and its test, makes them easy to find, review and drop when Rasa
fixes the same thing upstream. ``apply_all`` runs in the Rasa process only
(bot/rasa_server.py), before Rasa loads the model; ``rasa test``/``rasa train`` run unpatched.
"""

from __future__ import annotations


def apply_all() -> None:
    """Apply every speed-up; each is idempotent and keeps Rasa's behaviour."""
    from bot.speedups import action_schema, dialogue_states, parse_threads

    action_schema.apply()
    dialogue_states.apply()
    parse_threads.apply()
