"""Asking a short survey at the end of a conversation, and reading the answer.

``action_offer_survey`` runs after the bot resolved a conversation (thanks, goodbye,
troubleshooting fixed: nlu_data/rules.yml) and right after an agent resolved a handoff. It
decides (business.yml ``surveys:``; bot/surveys/choice.py), records the survey and asks it
with the buttons of its domain.yml response (numbered options on X DMs; NPS has an X text
of its own, because numbered options 1–11 would not match the scores 0–10).

While the ``survey`` slot holds a pending survey, bot/surveys/policy.py sends the next
message to ``action_survey_answer``. Anything that is not an answer — a new question, an
expired survey — makes the action revert itself (``ActionReverted``) and clear the slot,
so Rasa answers the message as a normal question in the same turn: a survey never blocks
the customer's next question.
"""

from __future__ import annotations

import logging
import time
from datetime import timezone
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActionReverted, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import SupportAction, channel_of, customer_store
from bot.db import run_sync
from bot.handoff.store import HandoffStore
from bot.outbox import utcnow
from bot.surveys.answers import SCALES, is_decline, is_no_comment, looks_like_score, read_answer
from bot.surveys.choice import choose_kind
from bot.surveys.conversation import (
    SURVEY_SLOT,
    answered_unresolved,
    bot_helped,
    conversation_key,
    customer_intents,
    is_public_x,
    session_start,
)
from bot.surveys.models import AFTER_AGENT, BOT_RESOLVED, CES, CSAT, NPS
from bot.surveys.settings import SurveySettings, load_survey_settings
from bot.surveys.store import NewSurvey, SurveyStore

logger = logging.getLogger(__name__)

RESOLVED_INTENT = "EXTERNAL_handoff_resolved"
SCORE, COMMENT = "score", "comment"
# A comment that is really a new question: one of these intents, confidently (or asked as a question).
NOT_QUESTIONS = {
    "complaint", "out_of_scope", "nlu_fallback", "thank", "goodbye", "affirm", "deny", "inform", "greet",
    "bot_challenge",
}  # fmt: skip
QUESTION_CONFIDENCE = 0.9
# The question of each kind (domain.yml; its buttons are the scale).
QUESTIONS = {CSAT: "utter_survey_csat", NPS: "utter_survey_nps", CES: "utter_survey_ces"}


def _intent(tracker: Tracker) -> tuple[str, float]:
    intent = tracker.latest_message.get("intent") or {}
    return str(intent.get("name") or ""), float(intent.get("confidence") or 0.0)


def _before_latest_message(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events before the message being handled (which is the answer, not a question)."""
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "user":
            return events[:index]
    return events


async def _customer_key(channel: str, sender_id: str) -> str:
    customer = await run_sync(customer_store().find_by_identity, channel, sender_id)
    return f"customer:{customer.id}" if customer is not None else f"sender:{sender_id}"


class ActionOfferSurvey(SupportAction):
    """Ask at most one survey per conversation, when the settings and throttles allow it."""

    def name(self) -> str:
        return "action_offer_survey"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        settings = load_survey_settings()
        events, sender = tracker.events, tracker.sender_id
        if not settings.enabled or tracker.get_slot(SURVEY_SLOT) or is_public_x(sender, events):
            return []  # never in a public X reply, never two at once
        trigger = AFTER_AGENT if _intent(tracker)[0] == RESOLVED_INTENT else BOT_RESOLVED
        intents = customer_intents(events)
        if trigger == BOT_RESOLVED and (not bot_helped(intents) or answered_unresolved(events)):
            return []  # "hi" … "bye", or the bot just said it could not help: nothing was resolved
        channel = channel_of(tracker)
        key = conversation_key(sender, events)
        customer_key = await _customer_key(channel, sender)
        surveys = SurveyStore(customer_store())
        if await run_sync(surveys.get, key) is not None:
            return []  # this conversation was asked already
        kind = choose_kind(
            settings, trigger, key,
            last_any=await run_sync(surveys.last_asked, customer_key),
            last_nps=await run_sync(surveys.last_asked, customer_key, NPS),
            now=utcnow(),
        )  # fmt: skip
        if kind is None:
            return []
        handoff = await run_sync(HandoffStore(customer_store()).latest_for, sender)
        if handoff is not None and handoff.created_at.replace(tzinfo=timezone.utc).timestamp() < (
            session_start(events) - 1
        ):
            handoff = None  # an earlier conversation's handoff
        survey = NewSurvey(
            conversation_key=key, conversation_id=sender, customer_key=customer_key, channel=channel,
            kind=kind, trigger=trigger, intents=intents,
            handoff_id=handoff.id if handoff else None,
            agent_name=(handoff.resolved_by_name or handoff.claimed_by_name) if handoff else None,
            handoff_reason=handoff.reason if handoff else None,
        )  # fmt: skip
        if await run_sync(surveys.ask, survey) is None:
            return []  # asked by a concurrent turn of the same conversation
        logger.info("survey %s asked in %s (%s, %s)", kind, key, trigger, channel)
        dispatcher.utter_message(response=QUESTIONS[kind])
        return [SlotSet(SURVEY_SLOT, {"key": key, "kind": kind, "stage": SCORE, "asked_at": time.time()})]


class ActionSurveyAnswer(SupportAction):
    """Read the customer's answer to the pending survey; anything else reverts to a normal turn."""

    def name(self) -> str:
        return "action_survey_answer"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        pending = tracker.get_slot(SURVEY_SLOT)
        if not isinstance(pending, dict) or not pending.get("key"):
            return _not_an_answer()
        settings = load_survey_settings()
        surveys = SurveyStore(customer_store(), settings.followup_channel)
        key, kind = str(pending["key"]), str(pending.get("kind"))
        text = str(tracker.latest_message.get("text") or "")
        intent, _ = _intent(tracker)
        expired = time.time() - float(pending.get("asked_at") or 0) > settings.expire_minutes * 60
        if pending.get("stage") == COMMENT:
            if kind in SCALES and read_answer(text, kind) is not None and len(text.strip()) <= 12:
                # A second score ("5", then "4", or a double tap): the first answer counts.
                dispatcher.utter_message(response="utter_survey_thanks")
                return [SlotSet(SURVEY_SLOT, None)]
            return await self._comment(dispatcher, tracker, surveys, key, text, expired or _external(intent))
        if expired or _external(intent):
            await run_sync(surveys.ignore, key)
            return _not_an_answer()
        if is_decline(text):
            await run_sync(surveys.decline, key)
            dispatcher.utter_message(response="utter_survey_declined")
            return [SlotSet(SURVEY_SLOT, None)]
        score = read_answer(text, kind) if kind in SCALES else None
        if score is None:
            if looks_like_score(text) and not pending.get("asked_again"):
                low, high = SCALES.get(kind, (0, 10))
                dispatcher.utter_message(response="utter_survey_out_of_range", low=low, high=high)
                return [SlotSet(SURVEY_SLOT, {**pending, "asked_again": True})]
            await run_sync(surveys.ignore, key)  # changed the subject: a normal question
            return _not_an_answer()
        intents = customer_intents(_before_latest_message(tracker.events))
        counted = await run_sync(surveys.answer, key, score, intents)
        logger.info("survey %s answered in %s: %s (counted: %s)", kind, key, score, counted)
        return self._thank(dispatcher, settings, pending, counted)

    @staticmethod
    def _thank(
        dispatcher: CollectingDispatcher, settings: SurveySettings, pending: dict[str, Any], counted: bool
    ) -> list[EventType]:
        if counted and settings.ask_comment:
            dispatcher.utter_message(response="utter_survey_ask_comment")
            return [SlotSet(SURVEY_SLOT, {**pending, "stage": COMMENT, "asked_at": time.time()})]
        dispatcher.utter_message(response="utter_survey_thanks")
        return [SlotSet(SURVEY_SLOT, None)]

    @staticmethod
    async def _comment(
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        surveys: SurveyStore,
        key: str,
        text: str,
        over: bool,
    ) -> list[EventType]:
        """The optional comment; "no" ends it, a confident new question is answered as one."""
        if over or _new_question(tracker, text):
            return _not_an_answer()
        if is_no_comment(text) or not text.strip():
            dispatcher.utter_message(response="utter_survey_thanks")
            return [SlotSet(SURVEY_SLOT, None)]
        await run_sync(surveys.comment, key, text)
        dispatcher.utter_message(response="utter_survey_comment_thanks")
        return [SlotSet(SURVEY_SLOT, None)]


def _external(intent: str) -> bool:
    """A trigger from our own relay (EXTERNAL_…), never the customer's answer."""
    return intent.startswith("EXTERNAL_")


def _new_question(tracker: Tracker, text: str) -> bool:
    intent, confidence = _intent(tracker)
    if not intent or intent in NOT_QUESTIONS:
        return False
    return confidence >= QUESTION_CONFIDENCE or text.rstrip().endswith("?")


def _not_an_answer() -> list[EventType]:
    """Undo this action and clear the survey: Rasa's policies handle the message as a normal turn."""
    return [ActionReverted(), SlotSet(SURVEY_SLOT, None)]
