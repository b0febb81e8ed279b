"""Dialogue states computed once per event, not once per policy per prediction.

Why: before every action it predicts, Rasa 3.6 turns the whole conversation into a list of
dialogue states (``Domain.states_for_tracker_history``): it replays every event of the
session into a fresh tracker and builds a state at each action. RulePolicy calls it several
times per prediction and MemoizationPolicy once, so at turn 50–80 of a conversation a
message spent ~21 ms there against ~2.4 ms at turn 1 (py-spy, 250 Hz, 30 messages each;
bench/README.md). The states of events already seen never change while events are only
appended, so this keeps them on the tracker and replays only the new events.

What the policies get is exactly what Rasa gives them, always:

- the kept replay is reused only while the tracker's applied events still start with the
  very same event objects (an undo — ``UserUtteranceReverted``, ``ActionReverted``, a form
  rewinding — or a restart changes them, and the states are rebuilt from the start);
- it is keyed by everything the result depends on (the domain object, ``omit_unset_slots``,
  ``ignore_rule_only_turns`` and what ``rule_only_data`` holds);
- the policies read states through Rasa's tracker featurizers, which then delete the user's
  text from every state that has an intent (``_remove_user_text_if_intent``, in place) and
  edit the last state (``_choose_last_user_input``). Kept states are handed out with that
  text already removed, so nothing edits them; the last state (built fresh, or, while a
  form runs in hidden rule-only turns, the last one kept), and the states sharing its user
  sub-state (which an edit of the last one reaches in Rasa), are handed out as copies of
  Rasa's own, sharing kept.

So ``TrackerFeaturizer.prediction_states`` returns the same states as unpatched Rasa;
``states_for_tracker_history`` itself differs only in that removed text.
tests/test_speedups_dialogue_states.py compares both after every event of real
conversations, undo, restarts and rule-only turns included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import rasa.shared.core.constants as core_constants
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import ActionExecuted, Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT, TEXT

_ORIGINAL = Domain.states_for_tracker_history
_KEPT = "_supportbot_dialogue_states"
_APPLIED = "_supportbot_applied_events"


@dataclass
class _Replay:
    """Rasa's loop over ``generate_all_prior_trackers``, stopped after ``events``."""

    domain: Domain
    rule_only_data: dict[str, Any] | None
    tracker: DialogueStateTracker
    events: list[Event] = field(default_factory=list)
    states: list[State] = field(default_factory=list)  # exactly Rasa's (never handed out)
    handed: list[State] = field(default_factory=list)  # the same, text beside an intent removed
    variables: list[Any] = field(default_factory=lambda: [None, False])  # Rasa's two loop locals
    last: tuple[int, State | None] | None = None  # (len(events), the state after them)


def _step(
    replay: _Replay, hide_rule_turn: bool, omit_unset_slots: bool, ignore: bool, variables: list[Any]
) -> State | None:
    """One iteration of Rasa's loop body for ``replay.tracker``, on ``variables``."""
    domain, tr, states = replay.domain, replay.tracker, replay.states
    if ignore:
        if not variables[1]:
            variables[0] = domain._get_prev_action_sub_state(tr)
        if not tr.followup_action and tr.latest_action_name != tr.active_loop_name:
            variables[1] = hide_rule_turn
        if variables[1]:
            return None
    state = domain.get_active_state(tr, omit_unset_slots=omit_unset_slots)
    if ignore:
        domain._remove_rule_only_features(state, replay.rule_only_data)
        if states:
            domain._substitute_rule_only_user_input(state, states[-1])
        if variables[0]:
            state[core_constants.PREVIOUS_ACTION] = variables[0]
    return domain._clean_state(state)


def _without_text_beside_intent(state: State) -> State:
    """The state as Rasa's featurizers leave it (``_remove_user_text_if_intent``), copied."""
    user = state.get(core_constants.USER)
    if user and user.get(INTENT) and user.get(TEXT):
        return {**state, core_constants.USER: {k: v for k, v in user.items() if k != TEXT}}
    return state


def _applied_events(tracker: DialogueStateTracker) -> list[Event]:
    """``tracker.applied_events()``, recomputed only when an event was added."""
    events = tracker.events
    mark = (id(events), len(events), id(events[-1]) if events else None)
    kept = tracker.__dict__.get(_APPLIED)
    if kept is None or kept[0] != mark:
        kept = tracker.__dict__[_APPLIED] = (mark, tracker.applied_events())
    return kept[1]


def _frozen(rule_only_data: dict[str, Any] | None) -> Any:
    if rule_only_data is None:
        return None
    return tuple(sorted((k, tuple(v) if isinstance(v, list | tuple | set) else v)
                        for k, v in rule_only_data.items()))  # fmt: skip


def _starts_with(applied: list[Event], seen: list[Event]) -> bool:
    return len(seen) <= len(applied) and all(a is b for a, b in zip(seen, applied, strict=False))


def states_for_tracker_history(
    self: Domain,
    tracker: DialogueStateTracker,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[State]:
    """``Domain.states_for_tracker_history``, replaying only events it has not seen."""
    applied = _applied_events(tracker)
    kept: dict[tuple, _Replay] = tracker.__dict__.setdefault(_KEPT, {})
    # RulePolicy builds a new rule_only_data dict on every call: key on what it says
    key = (id(self), omit_unset_slots, ignore_rule_only_turns, _frozen(rule_only_data))
    replay = kept.get(key)
    if (
        replay is None
        or replay.domain is not self
        or replay.rule_only_data != rule_only_data
        or not _starts_with(applied, replay.events)
    ):
        replay = kept[key] = _Replay(self, rule_only_data, tracker.init_copy())
    for event in applied[len(replay.events) :]:
        if isinstance(event, ActionExecuted):
            state = _step(replay, event.hide_rule_turn, omit_unset_slots, ignore_rule_only_turns,
                          replay.variables)  # fmt: skip
            if state is not None:
                replay.states.append(state)
                replay.handed.append(_without_text_beside_intent(state))
        replay.tracker.update(event)
        replay.events.append(event)
    if replay.last is None or replay.last[0] != len(replay.events):
        last = _step(replay, False, omit_unset_slots, ignore_rule_only_turns, list(replay.variables))
        replay.last = (len(replay.events), last)
    last = replay.last[1]
    # Rasa's featurizers edit the final state (``_choose_last_user_input``) — the freshly
    # built last one, or, when the current turn is hidden, the last kept one — and that
    # state may share its user sub-state with the states before it (rule-only turns copy it
    # forward), so an edit reaches them all: hand that run out as copies of Rasa's own
    # states, keeping the sharing, so nothing kept is ever edited.
    states = replay.states if last is None else [*replay.states, last]
    if not states:
        return []
    user = states[-1].get(core_constants.USER)
    start = len(states) - 1
    while start and user is not None and states[start - 1].get(core_constants.USER) is user:
        start -= 1
    return [*replay.handed[:start], *_copies(states[start:])]


def _copies(states: list[State]) -> list[State]:
    """Fresh states whose sub-dictionaries are shared exactly where the originals' are."""
    copied: dict[int, Any] = {}

    def sub(value: Any) -> Any:
        if isinstance(value, dict) and id(value) not in copied:
            copied[id(value)] = dict(value)
        return copied[id(value)] if isinstance(value, dict) else value

    return [{kind: sub(value) for kind, value in state.items()} for state in states]


def apply() -> None:
    """Replace ``Domain.states_for_tracker_history`` (idempotent; :func:`undo` restores Rasa's)."""
    Domain.states_for_tracker_history = states_for_tracker_history  # type: ignore[method-assign]


def undo() -> None:
    Domain.states_for_tracker_history = _ORIGINAL  # type: ignore[method-assign]


def original() -> Any:
    """Rasa's own function, for the equivalence tests."""
    return _ORIGINAL
