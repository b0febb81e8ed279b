"""Password reset: ask for the account email, validate it, send the link.

The answer never reveals whether an address has an account (no account enumeration):
only a customer writing from a known identity whose email matches is told "sent".
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import SupportAction, identify, mask_email

EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(?:\.[\w-]+)+$")


def clean_email(value: Any) -> str | None:
    """Trimmed, lower-cased email if ``value`` looks like one, else None."""
    text = str(value or "").strip().strip("<>.,;").lower()
    return text if EMAIL.match(text) else None


def validated_email(value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """The ``email`` slot update for a form: the cleaned address, or None after saying why."""
    email = clean_email(value)
    if email is None:
        dispatcher.utter_message(response="utter_invalid_email", value=value)
    return {"email": email}


class ValidatePasswordForm(FormValidationAction):
    def name(self) -> str:
        return "validate_password_form"

    async def validate_email(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        return validated_email(slot_value, dispatcher)


class ActionResetPassword(SupportAction):
    def name(self) -> str:
        return "action_reset_password"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        email = clean_email(tracker.get_slot("email"))
        customer = await identify(tracker)
        if email and customer.email and customer.email.lower() == email:
            dispatcher.utter_message(response="utter_password_reset_sent", email=mask_email(email))
        else:
            dispatcher.utter_message(response="utter_password_reset_generic", email=email)
        return [SlotSet("email", None)]
