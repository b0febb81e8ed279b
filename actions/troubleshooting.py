"""Guided connectivity troubleshooting: restart, then cables; a person if still broken."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import SupportAction, business
from actions.handoff import request_handoff

STEPS = ("ts_restart_fixed", "ts_cables_fixed")
REASON_NOT_FIXED = "connectivity troubleshooting (restart, cables) did not fix the problem"


def fixed(tracker: Tracker) -> bool:
    return any(tracker.get_slot(step) is True for step in STEPS)


class ValidateTroubleshootForm(FormValidationAction):
    def name(self) -> str:
        return "validate_troubleshoot_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Stop asking once a step has fixed it."""
        steps: list[str] = []
        for step in domain_slots:
            steps.append(step)
            if tracker.get_slot(step) is True:
                break
        return steps


class ActionTroubleshootResult(SupportAction):
    def name(self) -> str:
        return "action_troubleshoot_result"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        reset: list[EventType] = [SlotSet(step, None) for step in STEPS]
        if fixed(tracker):
            dispatcher.utter_message(response="utter_troubleshoot_fixed")
            return [*reset, FollowupAction("action_offer_survey")]  # resolved: a survey may follow
        if not business().handoff.triggers.self_service_failed:
            return [*reset, SlotSet("handoff_reason", REASON_NOT_FIXED), FollowupAction("utter_offer_human")]
        dispatcher.utter_message(response="utter_troubleshoot_escalate")
        events, _ = await request_handoff(dispatcher, tracker, REASON_NOT_FIXED)
        return [*reset, *events]
