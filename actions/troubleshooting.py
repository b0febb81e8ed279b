"""Guided connectivity troubleshooting: restart, then cables; a person if still broken.

The customer's records are used before the first step: a device named in the message that
their account does not hold ("my thermostat won't connect" from a customer with a Hub and a
Cam) is said so once, with what the account does hold, so the customer is not walked through
steps for a device we assumed. The steps themselves follow the named device where domain.yml
has a variant for it (utter_ask_ts_restart_fixed for the thermostat).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import SupportAction, business, identify
from actions.handoff import request_handoff

logger = logging.getLogger(__name__)

STEPS = ("ts_restart_fixed", "ts_cables_fixed")
REASON_NOT_FIXED = "connectivity troubleshooting (restart, cables) did not fix the problem"


def fixed(tracker: Tracker) -> bool:
    return any(tracker.get_slot(step) is True for step in STEPS)


def named_device(tracker: Tracker) -> str | None:
    """The device the latest message names (the entity, synonyms applied: "Hearthlink Thermostat")."""
    for entity in tracker.latest_message.get("entities") or ():
        if entity.get("entity") == "device_model" and entity.get("value"):
            return str(entity["value"])
    return None


class ValidateTroubleshootForm(FormValidationAction):
    def name(self) -> str:
        return "validate_troubleshoot_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("requested_slot") is None:  # the form starts, on the customer's own words
            await self._say_if_device_not_on_record(dispatcher, tracker)
        return await super().run(dispatcher, tracker, domain)

    @staticmethod
    async def _say_if_device_not_on_record(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        device = named_device(tracker)
        if not device:
            return
        try:
            owned = (await identify(tracker)).devices
        except Exception:  # the store is down: the steps still help, the remark can wait
            logger.exception("troubleshooting: customer store unavailable for sender %s", tracker.sender_id)
            return
        if owned and device not in owned:  # a customer with no devices on record: nothing to compare
            dispatcher.utter_message(
                response="utter_ts_device_not_on_record", device=device, devices=", ".join(owned)
            )

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
