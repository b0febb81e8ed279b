"""How long a handoff message takes through the real relay and the fake Slack server, both ways.

Used by bench/latency.py: a web-chat customer's message → in the agent's Slack thread, and an
agent's thread reply (a real signed Events API request) → pushed to the customer's browser.
Messages that never arrive are reported, never hidden.

The customer's messages are spaced ``SPACING_S`` apart (a little over the desk's pacing of about
one post per second per channel, bot/handoff/desks/slack/pacing.py): back to back, each sample
waited for its slot behind the previous one (p50 ~730 ms, measured 2026-12-02) and the figure
measured the pacing, not the path. What waiting behind other handoffs' posts in a busy channel
costs is the pacing's own matter (tests/test_slack_burst.py, the 50-handoff burst).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

from bot.handoff.desks.slack.pacing import BURST, RATE_PER_SECOND
from bot.processes import BotProcesses
from tests.fakes.slack import FakeSlack
from tests.support.webchat import WebChatCustomer

CHANNEL = "CHANDOFF"
SPACING_S = 1.0 / RATE_PER_SECOND + 0.2  # between two customer messages (see the module docstring)


def handoff_latency(bot: BotProcesses, slack: FakeSlack, samples: int) -> dict[str, Any]:
    """Through the relay and the fake Slack server, in ms: a web-chat customer's message →
    in the agent's thread, and the agent's thread reply → pushed to the customer's browser."""
    customer = WebChatCustomer(bot.rasa_url)
    session = customer.session_id  # issued by the server
    try:
        customer.ask("I want to talk to a human", "person from our support team", timeout=120)
        card = slack.wait_for(
            lambda: next(
                (m for m in slack.messages(CHANNEL) if session in json.dumps(m.get("blocks"))), None
            ),
            timeout=60,
        )
        # The card and the handoff's first thread posts used up the channel's burst: let the
        # pacing's schedule drain, or the first sample waits for a slot (seen: 5.1 s, via the outbox).
        time.sleep(BURST / RATE_PER_SECOND)
        events = f"{bot.relay_url}/slack/events"
        to_agent: list[float] = []
        to_customer: list[float] = []
        missing: list[str] = []  # messages that did not arrive within a minute: reported, never hidden
        sent = 0.0
        for number in range(samples):
            marker = f"bench message {number}"
            time.sleep(max(0.0, sent + SPACING_S - time.perf_counter()))
            started = sent = time.perf_counter()
            customer.say(marker)
            try:
                slack.wait_for(
                    lambda m=marker: any(m in r["text"] for r in slack.replies(card["ts"])), timeout=60
                )
                to_agent.append((time.perf_counter() - started) * 1000)
            except AssertionError:
                missing.append(f"customer → agent: {marker!r} (sent {datetime.now(timezone.utc):%H:%M:%S})")
            reply = f"agent reply {number}"
            started = time.perf_counter()
            slack.post_thread_reply(events, CHANNEL, card["ts"], "UALEX", reply)
            try:
                customer.wait_for(reply, timeout=60)
                to_customer.append((time.perf_counter() - started) * 1000)
            except AssertionError:
                missing.append(f"agent → customer: {reply!r} (sent {datetime.now(timezone.utc):%H:%M:%S})")
    finally:
        customer.close()
    return {
        "samples": samples,
        "spacing_s": SPACING_S,
        "customer_to_agent": percentiles(to_agent),
        "agent_to_customer": percentiles(to_customer),
        "not_arrived_within_60_s": missing,
    }


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "max_ms": float("nan")}
    ordered = sorted(values)
    return {
        "p50_ms": ordered[len(ordered) // 2],
        "p95_ms": ordered[int(0.95 * (len(ordered) - 1))],
        "max_ms": ordered[-1],
    }
