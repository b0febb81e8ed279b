"""The local agent inbox: a plain-text desk, its rendering, its page and API (``routes``),
behind agent accounts (``accounts``, ``agents_cli``) and the request checks in ``guard``."""

from __future__ import annotations

from bot.handoff.desks.inbox.desk import InboxDesk

__all__ = ["InboxDesk"]
