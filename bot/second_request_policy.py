"""Dialogue policy: the second request of a message is offered once the first one is done.

Why: "my wifi keeps dropping and honestly should I just return the router for a refund?" is
classified as connectivity_issue; ``SecondRequestDetector`` (bot/nlu/second_request.py) adds
the entity ``also_asked`` = start_return. Rules cannot say "at the end of whatever flow runs
now", so this policy does, for every flow at once: when the bot would next listen, no form is
active and no survey waits for its answer, it predicts the offer response configured for that
intent (config.yml ``offer``, e.g. utter_offer_second_return: "You also asked about a
return - shall I start one?"). The buttons send the intent itself (/start_return), so its own
rule starts the flow; a typed yes or no goes by the rules in nlu_data/rules.yml.

"The bot would next listen" is learnt at training: the actions that, in every rule and story,
are followed by listening (utter_goodbye, action_check_return ...; never a form, which runs
again, nor utter_complaint, which utter_offer_human follows), and that no rule answers with
yes or no (utter_offer_human is a question). So the offer never cuts a sequence of actions
short, never leaves two yes/no questions open, and a form's questions are not interleaved.

The offer is made once: not again after it was made, nor after a handoff (a person reads the
whole message), nor when the customer asked for it themselves, nor more than ``max_turns``
customer messages later. Priority 8: above RulePolicy (4), which would listen instead; the
other deciding policies act right after a message or inside a form, which this one never does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME, RULE_SNIPPET_ACTION_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.nlu.second_request import ENTITY
from bot.policies import HANDOFF_ACTION
from bot.rule_policy_base import DecidingPolicy
from bot.surveys.conversation import SURVEY_SLOT
from bot.trained_state import load_json, save_json

ENDS_FILE = "turn_ends.json"
YES_OR_NO = frozenset({"affirm", "deny"})

# One step of a conversation for next_offer: ("user", intent, also_asked or None) or ("action", name).
Step = tuple[str, ...]


def turn_ends(conversations: Iterable[Iterable[Event]]) -> set[str]:
    """The actions that every rule and story follows by listening (the end of the bot's turn).

    Not those a yes or no answers (utter_offer_human, action_knowledge_answer "did that
    help?"): an offer right after them would leave two questions open for one "yes".
    """
    followed: dict[str, set[str]] = defaultdict(set)
    questions: set[str] = set()
    for events in conversations:
        previous: str | None = None
        last_said: str | None = None  # the bot's last action before the customer's turn
        for event in events:
            if isinstance(event, UserUttered):
                if last_said and event.intent_name in YES_OR_NO:
                    questions.add(last_said)
                previous = last_said = None
            elif isinstance(event, ActionExecuted) and event.action_name:
                name = event.action_name
                if name == RULE_SNIPPET_ACTION_NAME:  # "any steps here" in a rule: tells nothing
                    previous = last_said = None
                    continue
                if previous:
                    followed[previous].add(name)
                previous = None if name == ACTION_LISTEN_NAME else name
                last_said = previous or last_said
        if previous:  # a rule or story ends with the bot's turn: it listens next
            followed[previous].add(ACTION_LISTEN_NAME)
    return {a for a, after in followed.items() if after == {ACTION_LISTEN_NAME} and a not in questions}


def next_offer(
    steps: list[Step],
    offers: dict[str, str],
    ends: frozenset[str],
    *,
    loop: str | None = None,
    survey_waiting: bool = False,
    max_turns: int = 6,
) -> str | None:
    """The offer response to predict now, or None to abstain (pure, tested on its own).

    ``steps``: the conversation so far, oldest first.
    """
    if loop or survey_waiting or not steps or steps[-1][0] != "action" or steps[-1][1] not in ends:
        return None
    actions_after: set[str] = set()
    intents_after: set[str] = set()
    for step in reversed(steps):
        if step[0] == "action":
            actions_after.add(step[1])
            continue
        _, intent, asked = step
        if asked in offers:
            offer = offers[asked]
            if offer in actions_after or HANDOFF_ACTION in actions_after or asked in intents_after:
                return None
            return offer
        intents_after.add(intent)
        if len(intents_after) > max_turns:  # counts distinct intents: enough to bound the search
            return None
    return None


def conversation_steps(events: Iterable[Event]) -> list[Step]:
    """The customer's messages (intent, also_asked) and the bot's actions, oldest first."""
    steps: list[Step] = []
    for event in events:
        if isinstance(event, UserUttered):
            asked = next((e.get("value") for e in event.entities if e.get("entity") == ENTITY), None)
            steps.append(("user", event.intent_name or "", asked))
        elif isinstance(event, ActionExecuted) and event.action_name:
            steps.append(("action", event.action_name))
    return steps


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class SecondRequestPolicy(DecidingPolicy):
    """Offers the message's second request (entity also_asked) when the bot would listen."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": 8, "offer": {}, "max_turns": 6}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        ends: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context)
        self._ends = ends

    def train(
        self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        self._ends = frozenset(turn_ends(t.events for t in training_trackers))
        save_json(self._model_storage, self._resource, ENDS_FILE, sorted(self._ends))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SecondRequestPolicy:
        ends = frozenset(load_json(model_storage, resource, ENDS_FILE, default=[]))  # untrained: never offers
        return cls(config, model_storage, resource, execution_context, ends)

    def choose(self, tracker: DialogueStateTracker) -> str | None:
        return next_offer(
            conversation_steps(tracker.applied_events()),
            dict(self.config["offer"]),
            self._ends,
            loop=tracker.active_loop_name,
            survey_waiting=bool(tracker.get_slot(SURVEY_SLOT)),
            max_turns=int(self.config["max_turns"]),
        )
