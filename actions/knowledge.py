"""Answers from the help center (knowledge/*.md), found by the NLU pipeline.

The search runs in the Rasa process (bot/nlu/knowledge_retriever.py), where the message's
embedding already exists; this action only words the answer: the article's own short
passage, its link, and "Did that answer your question?", whose "yes" counts as a customer
confirmation in the experience metrics (bot/experience/conversations.py).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.common import SupportAction


class ActionKnowledgeAnswer(SupportAction):
    """The passage the search found for the latest message, or the usual fallback without one."""

    def name(self) -> str:
        return "action_knowledge_answer"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        found = tracker.latest_message.get("knowledge") or {}
        if not (found.get("answered") and found.get("answer") and found.get("url")):
            return [FollowupAction("action_fallback")]  # never an empty or made-up answer
        dispatcher.utter_message(
            response="utter_knowledge_answer",
            answer=str(found["answer"]),
            title=str(found.get("title") or ""),
            url=str(found["url"]),
        )
        dispatcher.utter_message(response="utter_ask_knowledge_helped")
        return []
