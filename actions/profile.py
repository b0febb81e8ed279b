"""Answers personalised with what we know about the customer: name, plan."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import SupportAction, identify


class ActionGreet(SupportAction):
    def name(self) -> str:
        return "action_greet"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        customer = await identify(tracker)
        if customer.is_known:
            dispatcher.utter_message(response="utter_greet_known", first_name=customer.first_name)
        else:
            dispatcher.utter_message(response="utter_greet")
        return []


class ActionDescribePlans(SupportAction):
    def name(self) -> str:
        return "action_describe_plans"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_plans_pricing")
        customer = await identify(tracker)
        if customer.plan:
            dispatcher.utter_message(response="utter_current_plan", plan=customer.plan)
        return []


class ActionUpgradePlan(SupportAction):
    def name(self) -> str:
        return "action_upgrade_plan"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        customer = await identify(tracker)
        if customer.plan:
            dispatcher.utter_message(response="utter_current_plan", plan=customer.plan)
        dispatcher.utter_message(response="utter_upgrade_plan")
        return []
