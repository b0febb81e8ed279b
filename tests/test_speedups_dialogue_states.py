"""The incremental dialogue states equal Rasa's own, after every event of real conversations.

Conversations: every story and rule of nlu_data/ and tests/e2e_stories.yml as Rasa's training
generator turns them into trackers (forms, slots, follow-ups), replayed one event at a time,
plus undo (a reverted utterance, a reverted action), a restart and a new session in the middle.
Each is compared under every flag Rasa's policies pass, with the rule-only data of a trained
RulePolicy, and with callers that edit the states they are given.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Iterator
from typing import Any

import pytest
from rasa.core.featurizers.single_state_featurizer import SingleStateFeaturizer
from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
from rasa.core.training import load_data
from rasa.shared.core.constants import RULE_ONLY_LOOPS, RULE_ONLY_SLOTS
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.speedups import dialogue_states
from tests.support import ROOT

DOMAIN = Domain.load(str(ROOT / "domain.yml"))
RULE_ONLY = {RULE_ONLY_SLOTS: ["troubleshooting_step"], RULE_ONLY_LOOPS: ["order_status_form"]}
FLAGS = [
    (omit, ignore, data)
    for omit, ignore in itertools.product([False, True], [False, True])
    for data in (None, RULE_ONLY)
]


def _conversations() -> list[list[Event]]:
    files = [str(ROOT / "nlu_data" / "stories.yml"), str(ROOT / "nlu_data" / "rules.yml"),
             str(ROOT / "tests" / "e2e_stories.yml")]  # fmt: skip
    trackers = []
    for file in files:
        trackers += asyncio.run(_load(file))
    return [list(t.events) for t in trackers if len(t.events) > 3]


async def _load(file: str) -> list[Any]:
    loaded = load_data(file, DOMAIN, augmentation_factor=0)
    return await loaded if asyncio.iscoroutine(loaded) else loaded


CONVERSATIONS = _conversations()


def _with_undo(events: list[Event]) -> list[Event]:
    """The same conversation with an undo, a restart and a new session in its middle."""
    middle = len(events) // 2
    return [
        *events[:middle],
        UserUttered("oops", {"name": "greet", "confidence": 1.0}),
        UserUtteranceReverted(),
        ActionExecuted("utter_greet"),
        ActionReverted(),
        *events[middle : middle + 3],
        Restarted(),
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        *events[middle:],
    ]


def _with_hidden_turns(events: list[Event], seed: int) -> list[Event]:
    """The same conversation with some actions marked as rule-only turns, as RulePolicy marks them."""
    chance = random.Random(seed)
    return [
        ActionExecuted(e.action_name, e.policy, e.confidence, e.timestamp, hide_rule_turn=True)
        if isinstance(e, ActionExecuted) and e.action_name and chance.random() < 0.4
        else e
        for e in events
    ]


FEATURIZERS = [MaxHistoryTrackerFeaturizer(SingleStateFeaturizer(), max_history=h) for h in (None, 5)]


def _featurized(tracker: DialogueStateTracker, use_text: bool, ignore: bool, data: Any) -> list:
    return [
        featurizer.prediction_states(
            [tracker], DOMAIN, use_text, ignore_rule_only_turns=ignore, rule_only_data=data
        )
        for featurizer in FEATURIZERS
    ]


def _without_text_beside_intent(states: list[dict]) -> list[dict]:
    return [dialogue_states._without_text_beside_intent(s) for s in states]


def _check(events: list[Event]) -> int:
    """Patched and unpatched Rasa agree after every event; the number of comparisons."""
    tracker = DialogueStateTracker("test", DOMAIN.slots)
    compared = 0
    for event in events:
        tracker.update(event, DOMAIN)
        for omit, ignore, data in FLAGS:
            data = dict(data) if data is not None else None  # a new dict per call, as RulePolicy's
            dialogue_states.undo()
            direct = DOMAIN.states_for_tracker_history(tracker, omit, ignore, data)
            featurized = {u: _featurized(tracker, u, ignore, data) for u in (False, True)}
            dialogue_states.apply()
            ours = DOMAIN.states_for_tracker_history(tracker, omit, ignore, data)
            same = _without_text_beside_intent(ours) == _without_text_beside_intent(direct)
            assert same, f"after {event!r}, {(omit, ignore)}"
            for use_text in (False, True):  # what the policies read: identical
                assert _featurized(tracker, use_text, ignore, data) == featurized[use_text]
            compared += 1
    return compared


@pytest.fixture(autouse=True)
def rasas_own_afterwards() -> Iterator[None]:
    yield
    dialogue_states.undo()  # other tests in this process get Rasa unpatched


def test_the_training_conversations_give_rasas_states_after_every_event() -> None:
    assert len(CONVERSATIONS) >= 20
    assert sum(_check(events) for events in CONVERSATIONS) > 1000


@pytest.mark.parametrize("number", range(0, len(CONVERSATIONS), max(1, len(CONVERSATIONS) // 8)))
def test_undo_restart_and_a_new_session_give_rasas_states(number: int) -> None:
    _check(_with_undo(CONVERSATIONS[number]))


def test_rule_only_turns_give_rasas_states() -> None:
    hidden = [_with_hidden_turns(events, seed) for seed, events in enumerate(CONVERSATIONS)]
    assert sum(any(getattr(e, "hide_rule_turn", False) for e in events) for events in hidden) > 30
    assert sum(_check(events) for events in hidden) > 1000


def test_a_long_conversation_replays_only_the_new_events(monkeypatch: pytest.MonkeyPatch) -> None:
    dialogue_states.apply()
    tracker = DialogueStateTracker("long", DOMAIN.slots)
    for _ in range(30):
        for event in CONVERSATIONS[0]:
            tracker.update(event, DOMAIN)
    DOMAIN.states_for_tracker_history(tracker, False, True, dict(RULE_ONLY))
    replayed: list[Event] = []
    real_update = DialogueStateTracker.update

    def counting_update(self: DialogueStateTracker, event: Event, domain: Domain | None = None) -> None:
        replayed.append(event)
        real_update(self, event, domain)

    monkeypatch.setattr(DialogueStateTracker, "update", counting_update)
    tracker.update(UserUttered("hi", {"name": "greet", "confidence": 1.0}), DOMAIN)
    DOMAIN.states_for_tracker_history(tracker, False, True, dict(RULE_ONLY))  # a new dict, same data
    assert len(replayed) == 2  # the new event itself, and its replay: not the whole history


def test_a_hidden_current_turn_keeps_the_users_text_for_text_featurization() -> None:
    """While a form runs in hidden (rule-only) turns, Rasa's featurizer edits the last state it
    kept, the first message's; it must be Rasa's own (with the text), not the stripped copy."""
    events = [
        ActionExecuted("action_listen"),
        UserUttered("where is my order HL-118020?", {"name": "order_status", "confidence": 1.0}),
        ActionExecuted("order_status_form"),
        ActiveLoop("order_status_form"),
        ActiveLoop(None),
        ActionExecuted("action_order_status", hide_rule_turn=True),
        ActionExecuted("action_listen", hide_rule_turn=True),
        UserUttered("me@example.com", {"name": "inform", "confidence": 1.0}),
        ActiveLoop("verify_identity_form"),
        ActionExecuted("verify_identity_form", hide_rule_turn=True),
    ]
    assert _check(events) == len(events) * len(FLAGS)
    dialogue_states.apply()
    tracker = DialogueStateTracker.from_events("hidden", events, DOMAIN.slots)
    for _ in range(2):  # and the featurizer's edit did not reach what is kept
        states = FEATURIZERS[0].prediction_states([tracker], DOMAIN, True, True, dict(RULE_ONLY))
        assert states[0][-1]["user"] == {"text": "where is my order HL-118020?"}
