"""Agent desks: where people work a handoff (Slack, or the built-in local inbox).

``base`` is the contract the relay speaks (:class:`Desk`, :class:`CardState`,
:class:`Notice`); ``slack/`` and ``inbox/`` each render it in their own format.
"""

from __future__ import annotations

from bot.handoff.desks.base import CardRef, CardState, Desk, Notice, card_state

__all__ = ["CardRef", "CardState", "Desk", "Notice", "card_state"]
