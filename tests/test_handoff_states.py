"""The handoff's states and transitions (bot.handoff.states), on their own: no database, no desk."""

from __future__ import annotations

import json

import pytest

from bot.handoff import states
from bot.handoff.states import ACTIVE, HandoffStatus, IllegalTransition

W, C, R, T, A = (
    HandoffStatus.WAITING,
    HandoffStatus.CLAIMED,
    HandoffStatus.RESOLVED,
    HandoffStatus.TIMED_OUT,
    HandoffStatus.AFTER_HOURS,
)


def test_the_stored_values_are_the_strings_the_database_has_always_held() -> None:
    assert [status.value for status in HandoffStatus] == [
        "waiting", "claimed", "resolved", "timed_out", "after_hours",
    ]  # fmt: skip
    assert HandoffStatus("claimed") is C and C == "claimed" and f"{C}" == "claimed"
    assert json.dumps({"status": T}) == '{"status": "timed_out"}'
    assert "waiting" in ACTIVE and "claimed" in {C}  # plain strings from a row compare and hash alike
    assert set(ACTIVE) == {W, C}
    with pytest.raises(ValueError, match=r"unknown handoff status 'open'; expected one of \(waiting, "):
        states.parse("open")


def test_a_handoff_opens_waiting_or_after_hours() -> None:
    assert states.opening(open_now=True) is W
    assert states.opening(open_now=False) is A


def test_claiming_is_allowed_until_the_handoff_is_resolved() -> None:
    for current in (W, C, T, A):
        assert states.can_claim(current) and states.claim(current) is C
    assert states.claim("waiting") is C  # a raw value read from the database works too
    assert not states.can_claim(R)
    with pytest.raises(IllegalTransition, match=r"cannot claim a handoff that is 'resolved'") as error:
        states.claim(R)
    assert error.value.current is R and "can_claim()" in str(error.value)


def test_claiming_after_the_bot_came_back_pauses_it_again() -> None:
    assert [status for status in HandoffStatus if states.claim_pauses_bot(status)] == [T, A]


def test_resolving_is_final_and_wakes_the_bot_only_if_it_was_paused() -> None:
    for current in (W, C, T, A):
        assert states.can_resolve(current) and states.resolve(current) is R
    with pytest.raises(IllegalTransition, match=r"cannot resolve a handoff that is 'resolved'"):
        states.resolve(R)
    assert [status for status in HandoffStatus if states.resolve_resumes_bot(status)] == [W, C]


def test_only_a_waiting_handoff_times_out() -> None:
    assert states.can_time_out(W) and states.time_out(W) is T
    for current in (C, R, T, A):
        assert not states.can_time_out(current)
        with pytest.raises(IllegalTransition, match=rf"cannot time out a handoff that is '{current.value}'"):
            states.time_out(current)


def test_an_unknown_stored_status_fails_every_transition_loudly() -> None:
    for transition in (states.claim, states.resolve, states.time_out, states.can_claim):
        with pytest.raises(ValueError, match="unknown handoff status 'claimd'"):
            transition("claimd")
