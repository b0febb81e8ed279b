"""The life of a handoff: its states and the only ways it may move between them.

Why a module of its own: the status decides whether the bot stays quiet, which buttons an
agent sees and what the customer is told. When the list of statuses lived in the Slack
renderer and the rules in the store, a new state (or a typo) could be accepted by one and
not the other. Here the states are an enum and each transition is a pure function, so the
store, the relay, the actions and every desk ask the same code, and it is tested on its own.

The values are the strings the ``handoffs.status`` column has always stored, so existing
databases read unchanged (``HandoffStatus("claimed")``); no migration is needed.

::

    (opened) ──open_now──▶ waiting ──claim──▶ claimed ──resolve──▶ resolved
        │                    │  ▲                 ▲ │ (re-claim by another agent)
        │                    │  └──────────────── │─┘
        │                time_out                 │
        │                    ▼                  claim
        └──outside hours──▶ after_hours / timed_out ──resolve──▶ resolved

    claimed ──hand_back──▶ waiting (the owner goes off shift: back to the team's queue)
    waiting / claimed ──transfer──▶ waiting (in the new team's queue, with a new card)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

__all__ = [
    "ACTIVE",
    "CLAIM",
    "HAND_BACK",
    "RESOLVE",
    "TIME_OUT",
    "TRANSFER",
    "HandoffStatus",
    "IllegalTransition",
    "Transition",
    "can_claim",
    "can_hand_back",
    "can_resolve",
    "can_time_out",
    "can_transfer",
    "claim",
    "claim_pauses_bot",
    "hand_back",
    "lookup",
    "opening",
    "parse",
    "resolve",
    "resolve_resumes_bot",
    "time_out",
    "transfer",
]


class HandoffStatus(str, Enum):
    """Where a handoff stands. A ``str`` so it compares, stores and serialises as its value."""

    WAITING = "waiting"  # a person was asked for; the bot is paused
    CLAIMED = "claimed"  # an agent has the conversation; the bot is paused
    RESOLVED = "resolved"  # handed back to the bot; final
    TIMED_OUT = "timed_out"  # nobody claimed it in time; the bot is back and offered to take a message
    AFTER_HOURS = "after_hours"  # opened outside business hours; the bot took a message instead

    def __str__(self) -> str:  # f-strings and logs show "claimed", not "HandoffStatus.CLAIMED"
        return self.value

    def __hash__(self) -> int:  # hash like the string, so "claimed" in {HandoffStatus.CLAIMED}
        return str.__hash__(self)


# A person has (or is about to have) the conversation: the bot stays quiet. A tuple, so it
# also serves SQL ``status IN (...)``.
ACTIVE: tuple[HandoffStatus, ...] = (HandoffStatus.WAITING, HandoffStatus.CLAIMED)

# The bot came back to the customer without a person: claiming later pauses it again.
_BOT_IS_BACK = frozenset({HandoffStatus.TIMED_OUT, HandoffStatus.AFTER_HOURS})


class IllegalTransition(ValueError):
    """A handoff was asked to move in a way its state does not allow (a bug or a race)."""

    def __init__(self, action: str, current: HandoffStatus, allowed: frozenset[HandoffStatus]) -> None:
        names = ", ".join(sorted(status.value for status in allowed))
        super().__init__(
            f"cannot {action} a handoff that is {current.value!r}: {action} is allowed only from "
            f"({names}); check the status first (can_{action.replace(' ', '_')}())"
        )
        self.action, self.current = action, current


E = TypeVar("E", bound=Enum)


def lookup(kind: type[E], value: str, noun: str) -> E:
    """The member of a str-valued enum for ``value``; an unknown one fails loudly, naming the choices.

    Used for everything read back from the database or the outbox, where a typo would
    otherwise show the wrong buttons or post the wrong notice to every agent.
    """
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(str(member.value) for member in kind)
        raise ValueError(f"unknown {noun} {value!r}; expected one of ({known})") from None


def parse(value: str) -> HandoffStatus:
    """The enum for a value read from the database or an API (raises on an unknown one)."""
    return lookup(HandoffStatus, value, "handoff status")


@dataclass(frozen=True)
class Transition:
    """One way a handoff may move: from which states, to which."""

    action: str  # as the error message says it: "claim", "time out"
    allowed_from: frozenset[HandoffStatus]
    to: HandoffStatus

    def allowed(self, current: str) -> bool:
        return parse(current) in self.allowed_from

    def __call__(self, current: str) -> HandoffStatus:
        status = parse(current)
        if status not in self.allowed_from:
            raise IllegalTransition(self.action, status, self.allowed_from)
        return self.to


# --------------------------------------------------------------------------- transitions

# An agent takes the conversation, also from timed out / after hours (a person is back on
# it) and from claimed (another agent takes it over).
CLAIM = Transition("claim", frozenset(HandoffStatus) - {HandoffStatus.RESOLVED}, HandoffStatus.CLAIMED)
# Hand the conversation back to the bot. Final: a resolved handoff cannot be resolved again.
RESOLVE = Transition("resolve", frozenset(HandoffStatus) - {HandoffStatus.RESOLVED}, HandoffStatus.RESOLVED)
# Nobody claimed a waiting handoff in time: the bot comes back and offers to take a message.
TIME_OUT = Transition("time out", frozenset({HandoffStatus.WAITING}), HandoffStatus.TIMED_OUT)

# The owner goes off shift: the handoff goes back to the team's queue, the bot stays paused.
HAND_BACK = Transition("hand back", frozenset({HandoffStatus.CLAIMED}), HandoffStatus.WAITING)
# To another team: it waits in that team's queue (a claim does not travel with it).
TRANSFER = Transition("transfer", frozenset(ACTIVE), HandoffStatus.WAITING)

claim, can_claim = CLAIM, CLAIM.allowed
hand_back, can_hand_back = HAND_BACK, HAND_BACK.allowed
transfer, can_transfer = TRANSFER, TRANSFER.allowed
resolve, can_resolve = RESOLVE, RESOLVE.allowed
time_out, can_time_out = TIME_OUT, TIME_OUT.allowed


def opening(*, open_now: bool) -> HandoffStatus:
    """The state a new handoff starts in: waiting for a person, or after hours when nobody is on shift."""
    return HandoffStatus.WAITING if open_now else HandoffStatus.AFTER_HOURS


def claim_pauses_bot(current: str) -> bool:
    """Claiming from this state must pause the bot again: it had come back to the customer."""
    return parse(current) in _BOT_IS_BACK


def resolve_resumes_bot(current: str) -> bool:
    """Resolving from this state must wake the bot up (it was paused for a person)."""
    return parse(current) in ACTIVE
