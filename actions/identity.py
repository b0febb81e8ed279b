"""Linking a new chat to an account: the order's email, then a one-time code mailed to it.

Why this shape (see bot/customers/verification.py for the limits): a stranger must not be
able to learn from the chat whether an order number exists or an email matches, nor to
guess either without limit, nor to end up linked without proof. So every answer here is
the same whether the order exists or the email matched; only the account's own mailbox
receives the code; only that code links; and the owner is told by mail when it happens.
Without a mail server (``SMTP_HOST``/``SMTP_FROM``) linking is not offered at all.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.account import validated_email
from actions.common import SupportAction, channel_of
from bot import responses
from bot.customers.verification import CODE_LIFETIME, IdentityChecks, Outcome
from bot.db import run_sync
from bot.handoff.desks.labels import channel_label
from bot.mail import mail_configured, send_later
from bot.settings import customer_database_url

CODE = re.compile(r"^\s*(\d[\d\s-]{4,10}\d)\s*$")  # "482913", "482 913", "482-913"
DEFAULT_ACTION = "action_order_status"


def identity_checks() -> IdentityChecks:
    return IdentityChecks(customer_database_url())


def offer_identity_check(dispatcher: CollectingDispatcher, number: str, action: str) -> list[EventType]:
    """A first-time sender asked about an order not on their chat: offer the check, or say we can't.

    Called the same way whether or not ``number`` exists, so the reply reveals nothing.
    """
    if not mail_configured():
        dispatcher.utter_message(response="utter_identity_link_unavailable", order_number=number)
        return [FollowupAction("utter_offer_human")]
    return [
        SlotSet("pending_order", number),
        SlotSet("pending_action", action),
        SlotSet("email", None),
        FollowupAction("verify_identity_form"),
    ]


def _done() -> list[EventType]:
    return [SlotSet(name, None) for name in ("pending_order", "pending_action", "email", "identity_code")]


class ValidateVerifyIdentityForm(FormValidationAction):
    def name(self) -> str:
        return "validate_verify_identity_form"

    async def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validated_email(value, dispatcher)


class ActionVerifyIdentity(SupportAction):
    """Count the attempt; on a match mail a code to the account; answer the same either way."""

    def name(self) -> str:
        return "action_verify_identity"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        number = str(tracker.get_slot("pending_order") or "")
        email = str(tracker.get_slot("email") or "")
        if not number or not mail_configured():
            dispatcher.utter_message(response="utter_identity_link_unavailable", order_number=number or "")
            return [*_done(), FollowupAction("utter_offer_human")]
        channel = channel_of(tracker)
        started = await run_sync(identity_checks().start, channel, tracker.sender_id, number, email)
        if started.limited:
            dispatcher.utter_message(response="utter_identity_too_many_attempts")
            return [*_done(), FollowupAction("utter_offer_human")]
        if started.code and started.email:
            minutes = int(CODE_LIFETIME.total_seconds() // 60)
            language = tracker.get_slot("language")  # the chat's: whoever asked reads it there
            values = {
                "first_name": started.first_name or "",
                "code": started.code,
                "minutes": minutes,
                "order_number": number,
                "chat": channel_label(channel),
            }
            send_later(
                started.email,
                responses.render("utter_mail_identity_code_subject", language=language, **values),
                responses.render("utter_mail_identity_code_body", language=language, **values),
                what="one-time code",
            )
        dispatcher.utter_message(
            response="utter_identity_code_sent",
            order_number=number,
            minutes=int(CODE_LIFETIME.total_seconds() // 60),
        )
        return [SlotSet("email", None), SlotSet("identity_code", None), FollowupAction("identity_code_form")]


class ActionCheckIdentityCode(SupportAction):
    """The code typed into the chat: the right one links it and answers what was asked."""

    def name(self) -> str:
        return "action_check_identity_code"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        channel, checks = channel_of(tracker), identity_checks()
        match = CODE.match(str(tracker.get_slot("identity_code") or ""))
        if match is None:  # not a code: the customer moved on; stop rather than trap them
            await run_sync(checks.stop, channel, tracker.sender_id)
            dispatcher.utter_message(response="utter_identity_check_stopped")
            return _done()
        code = re.sub(r"\D", "", match.group(1))
        result = await run_sync(checks.check_code, channel, tracker.sender_id, code)
        if result.outcome == "wrong":
            dispatcher.utter_message(response="utter_identity_code_wrong", tries_left=result.tries_left)
            return [SlotSet("identity_code", None), SlotSet("order_number", None),
                    FollowupAction("identity_code_form")]  # fmt: skip
        if result.outcome != Outcome.LINKED:
            response = "utter_identity_code_expired" if result.outcome == Outcome.EXPIRED else None
            dispatcher.utter_message(response=response or "utter_identity_not_verified")
            return [*_done(), SlotSet("order_number", None), FollowupAction("utter_offer_human")]
        if result.email:
            language = tracker.get_slot("language")
            values = {
                "first_name": result.first_name or "",
                "chat": channel_label(channel),
                "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            }
            send_later(
                result.email,
                responses.render("utter_mail_identity_linked_subject", language=language, **values),
                responses.render("utter_mail_identity_linked_body", language=language, **values),
                what="new chat linked",
            )
        dispatcher.utter_message(response="utter_identity_verified", first_name=result.first_name or "")
        then = tracker.get_slot("pending_action") or DEFAULT_ACTION
        return [*_done(), SlotSet("order_number", result.order_number), FollowupAction(then)]
