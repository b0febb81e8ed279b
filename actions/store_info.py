"""Answers about the store whose facts the bot also computes with (from business.yml).

The opening hours a customer is told come from ``handoff.business_hours`` — the same
hours that decide whether a person can take over — so the bot cannot promise a team that
its own handoff logic says is offline.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import SupportAction, business


class ActionSupportHours(SupportAction):
    def name(self) -> str:
        return "action_support_hours"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        hours = business().handoff.business_hours
        dispatcher.utter_message(response="utter_support_hours", hours=hours.describe())
        return []
