"""What tests share besides fixtures: helpers to import, never ``conftest`` as a module.

pytest loads ``tests/conftest.py`` for its fixtures; importing it from a test module as well
loads it a second time under another name (two copies of every global). Helpers live here,
one module per concern: ``services`` (real PostgreSQL/RabbitMQ/HAProxy), ``bot`` (the whole
bot on free ports), ``trackers`` (rasa-sdk trackers for action tests), ``webchat`` (a
Socket.IO customer).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
