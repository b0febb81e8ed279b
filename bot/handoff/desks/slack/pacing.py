"""Spacing our posts per channel the way Slack wants them: about one a second, short bursts allowed.

Why: ``chat.postMessage`` is limited per channel (https://docs.slack.dev/apis/web-api/rate-limits:
"1 message per second per channel, short bursts allowed"). Fifty handoffs opened at once would
otherwise send fifty cards and their thread messages in the same instant, get a wall of
HTTP 429s, and every outbox queue would retry on the same ``Retry-After`` together: a retry
storm. So each post first reserves a slot in its channel's schedule (a GCRA: ``burst`` posts
at once, then one every ``1 / rate`` s). A slot a moment away is waited for; a later one is
handed back to the outbox as ``RetryLater(retry_after=...)``, so the burst waits *in the
outbox* (durably, without holding a worker) and comes back when its slot is due. The slot
stays reserved for the delivery key, so the item keeps its place in line.

A 429 still happens when another process posts in the same channel, or when Slack's burst is
smaller than ours; then :meth:`hold` moves the whole channel's schedule past ``Retry-After``
(the reservations are dropped and taken anew), so one 429 does not become one per waiting item,
and halves that channel's burst from then on. Why halve: a CI run of tests/test_slack_burst.py
met 15 refusals in 250 posts when only the schedule moved (two at the start, then ten more
after the process stalled for a moment and its full burst of 7 met Slack's 5); once the burst
is learnt, a stall no longer sends more at once than Slack lets through.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Slack's documented limit: about one message per second per channel, short bursts allowed.
RATE_PER_SECOND = 1.0
BURST = 4
#: A slot this close is waited for inside the delivery; a later one goes back to the outbox.
MAX_WAIT_SECONDS = 1.0
#: Reservations older than this are dropped (their item died, or was delivered elsewhere).
RESERVATION_TTL_SECONDS = 600.0


@dataclass
class _Channel:
    tat: float = 0.0  # theoretical arrival time of the next post (GCRA)
    held_until: float = 0.0
    burst: int = 1  # this channel's burst: the pacer's, halved on each 429 episode
    reserved: dict[str, float] = field(default_factory=dict)  # delivery key -> its slot


class ChannelPacer:
    """Per-channel post schedule of one process; see the module docstring."""

    def __init__(
        self,
        rate: float = RATE_PER_SECOND,
        burst: int = BURST,
        *,
        max_wait: float = MAX_WAIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.interval = 1.0 / rate
        self.burst = burst
        self.max_wait = max_wait
        self.clock = clock
        self._channels: dict[str, _Channel] = {}

    def slot(self, channel: str, key: str | None = None) -> float:
        """Seconds until this post may go (0: now), its slot reserved for ``key`` meanwhile.

        Asking again with the same ``key`` returns the same slot (what is left of the wait).
        """
        now = self.clock()
        state = self._state(channel)
        if key is not None and key in state.reserved:
            return max(0.0, state.reserved[key] - now)
        self._expire(state, now)
        start = max(now, state.held_until, state.tat - (state.burst - 1) * self.interval)
        state.tat = max(state.tat, now, state.held_until) + self.interval
        if key is not None and start > now:
            state.reserved[key] = start
        return start - now

    def done(self, channel: str, key: str | None) -> None:
        """The post went out (or failed for good): its reservation is used up."""
        state = self._channels.get(channel)
        if state is not None and key is not None:
            state.reserved.pop(key, None)

    def hold(self, channel: str, seconds: float) -> None:
        """Slack answered 429 with ``Retry-After: seconds``: nothing goes to ``channel`` before then."""
        now = self.clock()
        state = self._state(channel)
        if now >= state.held_until:  # a new episode, not another 429 of the same burst
            state.burst = max(1, state.burst // 2)
        state.held_until = max(state.held_until, now + seconds)
        # No burst when the hold ends: Slack's idea of the burst was smaller than ours.
        state.tat = max(state.tat, state.held_until + (state.burst - 1) * self.interval)
        state.reserved.clear()

    def burst_of(self, channel: str) -> int:
        """How many posts ``channel`` may get at once now (the pacer's burst until a 429)."""
        return self._state(channel).burst

    def _state(self, channel: str) -> _Channel:
        if channel not in self._channels:
            self._channels[channel] = _Channel(burst=self.burst)
        return self._channels[channel]

    def _expire(self, state: _Channel, now: float) -> None:
        stale = [key for key, at in state.reserved.items() if at < now - RESERVATION_TTL_SECONDS]
        for key in stale:
            del state.reserved[key]
