"""One planned demo conversation → the Rasa events a real one leaves in the tracker store (pure).

The events are Rasa's own classes (``rasa.shared.core.events``) in the order Rasa 3.6
writes them: ``action_session_start`` / ``session_started`` / ``action_listen``, each
customer message as ``user`` with its parse data, then the predicted actions (an
``action`` event before what it does: ``bot``, ``slot``, ``active_loop`` …). A handoff is
what actions/handoff.py and the relay write: ``action_handoff``, the ``handoff_reason``
slot, ``pause``; the agent's messages as ``bot`` events whose metadata names the agent
(bot/handoff/relay.py); Resolve as ``resume`` + ``action_listen`` + the external intent
``EXTERNAL_handoff_resolved``. A survey is ``action_offer_survey`` and its question, the
answer a ``user`` event followed by ``action_survey_answer`` (plus ``undo`` when the
customer changed the subject instead). The bot's words are domain.yml's responses.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    Event,
    FollowupAction,
    SessionStarted,
    SlotSet,
    UserUttered,
)

from bot.experience.demo_plan import ConversationSpec, CustomerSpec, SurveySpec
from bot.responses import language_of
from bot.surveys.conversation import SURVEY_SLOT

_PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")


@dataclass
class Rendered:
    """One conversation's events and the rows that go with them (ids filled in by bot/experience/demo.py)."""

    spec: ConversationSpec
    session_start: float
    events: list[Event] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)  # the customer's, in order, distinct
    handoff: dict[str, Any] | None = None  # ``handoffs`` columns but id and customer_id
    agent_messages: list[BotUttered] = field(default_factory=list)  # their metadata gets the handoff id
    survey: dict[str, Any] | None = None  # ``survey_requests`` columns but customer_key and handoff_id


class Script:
    """Writes events on a clock that moves the way a chat does (people type, the bot is quick)."""

    def __init__(self, spec: ConversationSpec, texts: dict[str, Any], responses: dict[str, Any],
                 values: dict[str, Any], until: float) -> None:  # fmt: skip
        self.spec, self.texts, self.responses, self.values = spec, texts, responses, values
        self.rng = random.Random(spec.seed)
        self.t = spec.start
        self.until = until
        self.out = Rendered(spec, spec.start)

    # ----------------------------------------------------------------- primitives

    def add(self, event: Event) -> Event:
        event.timestamp = self.t
        if self.t <= self.until:
            self.out.events.append(event)
        self.t += self.rng.uniform(0.002, 0.02)
        return event

    def wait(self, low: float, high: float) -> None:
        self.t += self.rng.uniform(low, high)

    def user(self, text: str, intent: str, *, counted: bool = True, confidence: float | None = None,
             entities: list[dict[str, Any]] | None = None, anger: float | None = None) -> None:  # fmt: skip
        self.wait(6, 45)
        score = confidence if confidence is not None else round(self.rng.uniform(0.74, 0.99), 4)
        found = entities or []
        parse = {
            "intent": {"name": intent, "confidence": score}, "entities": found, "text": text,
            "intent_ranking": [{"name": intent, "confidence": score}],
            "sentiment": {"label": "angry" if anger else "neutral", "score": 0.9, "anger": anger or 0.02},
        }  # fmt: skip
        message_id = uuid.UUID(int=self.rng.getrandbits(128)).hex
        self.add(UserUttered(text, parse["intent"], found, parse, input_channel=self.spec.channel,
                             message_id=message_id, metadata={}))  # fmt: skip
        if counted and intent not in self.out.intents:
            self.out.intents.append(intent)
        self.wait(0.3, 1.8)  # NLU, policies, the action server

    def act(self, name: str, policy: str | None = "RulePolicy") -> None:
        self.add(ActionExecuted(name, policy=policy, confidence=1.0 if policy else None))

    def say(self, response: str, *, custom: dict[str, Any] | None = None, **values: Any) -> None:
        text, buttons = self._response(response, values)
        data = {"elements": None, "quick_replies": None, "buttons": buttons, "attachment": None,
                "image": None, "custom": custom}  # fmt: skip
        self.add(BotUttered(text, data, {"utter_action": response}))

    def custom(self, payload: dict[str, Any]) -> None:
        """``dispatcher.utter_message(json_message=...)``: the web chat's handoff banner."""
        self.add(BotUttered(None, {"custom": payload}, {}))

    def utter(self, response: str, **values: Any) -> None:
        self.act(response)
        self.say(response, **values)

    def listen(self) -> None:
        self.act("action_listen")

    def answer(self, steps: list[str], **values: Any) -> None:
        """A rule's answer: ``[utter_x]`` or ``[action_y, utter_z]``, then listening."""
        if len(steps) == 1:
            self.utter(steps[0], **values)
        else:
            self.act(steps[0])
            self.say(steps[1], **values)
        self.listen()

    def response_text(self, name: str, **values: Any) -> str:
        return self._response(name, values)[0]

    def _response(self, name: str, values: dict[str, Any]) -> tuple[str, list[dict[str, Any]] | None]:
        # The demo customers write English: variations for another language (a condition on
        # the language slot, listed before the English default) are not theirs.
        variations = [
            v
            for v in self.responses.get(name) or []
            if isinstance(v, dict) and v.get("text") and language_of(v) is None
        ]
        mine = [v for v in variations if v.get("channel") == self.spec.channel] or [
            v for v in variations if not v.get("channel")
        ]
        if not mine:
            return name, None
        known = {**self.values, **values}
        text = _PLACEHOLDER.sub(lambda m: str(known.get(m[1], m[0])), str(mine[0]["text"]))
        return text, mine[0].get("buttons")

    # ----------------------------------------------------------------- steps of a story

    def session_start(self) -> None:
        self.act("action_session_start", policy=None)
        self.out.session_start = self.t
        self.add(SessionStarted())
        self.act("action_listen", policy=None)

    def greet(self, customer: CustomerSpec | None) -> None:
        self.user(self.rng.choice(self.texts["greetings"]), "greet")
        self.act("action_greet")
        if customer is not None:
            self.say("utter_greet_known", first_name=customer.name.split()[0])
        else:
            self.say("utter_greet")
        self.listen()

    def question(self, topic: str) -> None:
        entry = self.texts["questions"][topic]
        self.user(self.rng.choice(entry["texts"]), topic)
        self.answer(entry["answer"], **entry.get("values", {}))

    def open_form(self, topic: str) -> dict[str, Any]:
        form = self.texts["forms"][topic]
        self.user(self.rng.choice(self.texts["form_questions"][topic]), topic)
        self.act(form["form"])
        self.add(ActiveLoop(form["form"]))
        self.add(SlotSet("requested_slot", form["slot"]))
        self.say(form["ask"])
        self.listen()
        return form

    def finish_form(self, topic: str, form: dict[str, Any]) -> None:
        value: Any
        if form["slot"] == "order_number":
            value = f"HL-{self.rng.randrange(100000, 999999)}"
            self.user(f"it's {value}", "inform", entities=[{"entity": "order_number", "value": value}])
        elif form["slot"] == "email":
            value = self.values["email"]
            self.user(value, "inform", entities=[{"entity": "email", "value": value}])
        else:
            value = True
            self.user(self.rng.choice(["yes that fixed it", "yes, working now"]), "affirm")
        self.act(form["form"])
        self.add(SlotSet(form["slot"], value))
        shown = {**form.get("values", {}), form["slot"]: value}  # {order_number}, {email}
        for step in form.get("then") or ():  # the form's later questions, each answered
            self.add(SlotSet("requested_slot", step["slot"]))
            self.say(step["ask"], **shown)
            self.listen()
            answer = self.rng.choice(step["texts"])
            self.user(answer, step["intent"], counted=False)  # an answer, not what they came for
            self.act(form["form"])
            self.add(SlotSet(step["slot"], step.get("value", answer)))
            shown.setdefault("reason", answer)
        self.add(SlotSet("requested_slot", None))
        self.add(ActiveLoop(None))
        self.act(form["done"][0])
        shown["return_id"] = f"R-{self.rng.randrange(1, 99999):05d}"
        self.say(form["done"][1], **shown)
        self.listen()

    def not_understood(self, *, second: bool = False) -> None:
        self.user(self.rng.choice(self.texts["unrecognised"]), "nlu_fallback", confidence=0.58)
        self.act("action_fallback")
        if second:
            self.add(SlotSet("handoff_reason", self.texts["handoffs"]["not_understood"]["reason"]))
            self.add(FollowupAction("utter_offer_human"))
            self.utter("utter_offer_human")
        else:
            self.say("utter_ask_rephrase")
        self.listen()

    def ending(self, how: str) -> None:
        if how == "thanks":
            self.user(self.rng.choice(self.texts["thanks"]), "thank")
            self.utter("utter_you_are_welcome")
        elif how == "goodbye":
            self.user(self.rng.choice(self.texts["goodbyes"]), "goodbye")
            self.utter("utter_goodbye")

    def survey(self, survey: SurveySpec, kind_trigger: str) -> None:
        """The question after the last answer, and the customer's reply (or none) as planned.

        As actions/surveys.py runs it: the score, then the optional comment (or "no"), each
        a ``user`` event answered by ``action_survey_answer``; the ``survey`` slot holds the
        pending survey until it ends."""
        self.wait(0.5, 1.5)
        self.act("action_offer_survey", policy="RulePolicy")
        asked_at = self.t
        self.say_survey(survey.kind)
        pending = {"key": f"{self.spec.sender}@{int(self.out.session_start)}", "kind": survey.kind,
                   "stage": "score", "asked_at": asked_at}  # fmt: skip
        self.add(SlotSet(SURVEY_SLOT, pending))
        self.listen()
        row: dict[str, Any] = {"kind": survey.kind, "trigger": kind_trigger, "status": survey.status,
                               "asked_at": asked_at}  # fmt: skip
        self.out.survey = row
        if survey.status == "answered" and survey.score is not None:
            self.user(
                _score_text(self.rng, survey.kind, survey.score), "inform", counted=False, confidence=0.62
            )
            row["answered_at"], row["score"] = self.t, survey.score
            self.act("action_survey_answer")
            self.say("utter_survey_ask_comment")
            self.add(SlotSet(SURVEY_SLOT, {**pending, "stage": "comment", "asked_at": self.t}))
            self.listen()
            if survey.comment_mood:
                comment = self.rng.choice(self.texts["comments"][survey.comment_mood])
                self.user(comment, "nlu_fallback", counted=False, confidence=0.4)
                row["comment"], row["commented_at"] = comment, self.t
                self._survey_reply("utter_survey_comment_thanks")
            elif self.rng.random() < 0.5:
                self.user(self.rng.choice(["no", "no thanks", "nope"]), "deny", counted=False)
                self._survey_reply("utter_survey_thanks")
        elif survey.status == "declined":
            self.user(self.rng.choice(self.texts["survey_declines"]), "deny", counted=False)
            self._survey_reply("utter_survey_declined")
        elif survey.changed_subject:
            topic = self.rng.choice(list(self.texts["questions"]))
            entry = self.texts["questions"][topic]
            self.user(self.rng.choice(entry["texts"]), topic)
            self.act("action_survey_answer")
            self.add(ActionReverted())
            self.answer(entry["answer"], **entry.get("values", {}))

    def _survey_reply(self, response: str) -> None:
        self.act("action_survey_answer")
        self.say(response)
        self.add(SlotSet(SURVEY_SLOT, None))
        self.listen()

    def say_survey(self, kind: str) -> None:
        """``utter_survey_<kind>`` (domain.yml): buttons on the web chat and Slack, numbers on X."""
        self.say(f"utter_survey_{kind}")


def _score_text(rng: random.Random, kind: str, score: int) -> str:
    forms = {"csat": [f"{score}", f"{score} stars", f"{score}/5"], "nps": [f"{score}", f"{score}/10"],
             "ces": [f"{score}"]}  # fmt: skip
    return rng.choice(forms[kind])


def utc(stamp: float) -> datetime:
    """A Rasa timestamp as our tables store times: naive UTC."""
    return datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None)
