"""The goals of issue 14 ("Fast"), checked against one latency run: measured value, met or not.

Why a module: the targets are fixed numbers the shipped bot must reach on this 2-core machine;
keeping them here, next to nothing else, makes a changed target a visible one-line diff. A goal
whose measurement was not part of the run (``--skip-bare``, no level 1, no long conversations)
is "not measured", never "met".
"""

from __future__ import annotations

import math
from typing import Any

OURS = "supportbot"
THROUGHPUT_VS_BARE = 3.0  # ours msgs/s at least 3 times bare Rasa's, each topology and level
P50_ONE_MS = 20.0  # at one conversation
P95_ONE_MS = 40.0
LONG_RATIO = 1.2  # p50 at the last turn at most 1.2 times p50 at turn 2
RASA_RSS_MB = 1024.0  # each Rasa process's peak RSS
HANDOFF_P95_MS = 300.0  # customer's message → the agent's Slack thread


def _goal(goal: str, topology: str, target: str, value: float | None, limit: float, at_least: bool,
          shown: str | None = None) -> dict[str, Any]:  # fmt: skip
    if value is None or math.isnan(value):
        return {"goal": goal, "topology": topology, "target": target, "measured": "not measured",
                "value": None, "met": None}  # fmt: skip
    met = value >= limit if at_least else value <= limit
    return {"goal": goal, "topology": topology, "target": target, "measured": shown or f"{value:,.0f}",
            "value": value, "met": met}  # fmt: skip


def goals(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every goal for every topology of the shipped bot in ``runs``."""
    found = []
    for ours in (run for run in runs if run["setup"] == OURS):
        topology = ours["topology"]
        bare = next((r for r in runs if r["setup"] != OURS and r["topology"] == topology), None)
        for row in ours["levels"]:
            level = row["concurrency"]
            theirs = next((r for r in bare["levels"] if r["concurrency"] == level), None) if bare else None
            ratio = row["msgs_per_s"] / theirs["msgs_per_s"] if theirs else None
            shown = (
                f"{ratio:.2f}× ({row['msgs_per_s']:.1f} vs {theirs['msgs_per_s']:.1f})" if theirs else None
            )
            found.append(_goal(f"msgs/s vs bare Rasa, {level} conv.", topology, f"≥ {THROUGHPUT_VS_BARE:g}×",
                               ratio, THROUGHPUT_VS_BARE, True, shown))  # fmt: skip
        one = next((row for row in ours["levels"] if row["concurrency"] == 1), None)
        for key, limit in (("p50_ms", P50_ONE_MS), ("p95_ms", P95_ONE_MS)):
            value = one[key] if one else None
            found.append(_goal(f"{key[:3]} at 1 conversation", topology, f"≤ {limit:g} ms", value, limit,
                               False, f"{value:.0f} ms" if one else None))  # fmt: skip
        long = ours.get("long_conversations")
        turns = long["turns"] if long else 60
        ratio = long["ratio_last_to_turn_2"] if long else None
        shown = None
        if long:
            p50 = long["p50_ms_at_turn"]
            shown = f"{ratio:.2f}× ({p50[str(turns)]:.0f} vs {p50['2']:.0f} ms)"
        found.append(_goal(f"p50 turn {turns} / turn 2", topology, f"≤ {LONG_RATIO:g}×", ratio, LONG_RATIO,
                           False, shown))  # fmt: skip
        rasa = [mb for name, mb in ours["peak_rss_mb"].items() if name.startswith("rasa")]
        peak = max(rasa) if rasa else None
        found.append(_goal("Rasa process peak RSS", topology, f"≤ {RASA_RSS_MB:,.0f} MB", peak, RASA_RSS_MB,
                           False, f"{peak:,.0f} MB" if rasa else None))  # fmt: skip
        handoff = ours.get("handoff")
        p95 = handoff["customer_to_agent"]["p95_ms"] if handoff else None
        found.append(_goal("handoff customer → Slack thread p95", topology, f"≤ {HANDOFF_P95_MS:g} ms", p95,
                           HANDOFF_P95_MS, False, f"{p95:.0f} ms" if handoff else None))  # fmt: skip
    return found


def print_goals(found: list[dict[str, Any]]) -> None:
    print()
    print("Goals (issue 14), shipped bot:")
    print()
    print("| goal | topology | target | measured | result |")
    print("|---|---|---|---:|---|")
    for goal in found:
        result = {True: "met", False: "**not met**", None: "not measured"}[goal["met"]]
        print(f"| {goal['goal']} | {goal['topology']} | {goal['target']} | {goal['measured']} | {result} |")
