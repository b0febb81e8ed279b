"""The arithmetic of the report (pure): survey scores, rates, medians and percentiles.

Each function answers None, not 0, when there is nothing to measure: "no CSAT answers this
week" and "nobody was satisfied" are different news, and the report shows them differently.
Percentages are 0..100, rounded to one decimal only at the end (:func:`rounded`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

CSAT_SATISFIED = (4, 5)  # of 1..5
NPS_PROMOTERS = (9, 10)  # of 0..10
NPS_DETRACTORS = range(0, 7)  # 0..6; 7 and 8 are passives
CES_RANGE = (1, 7)  # "made it easy": 1 strongly disagree .. 7 strongly agree


def rate(numerator: int | float, denominator: int | float) -> float | None:
    """``numerator / denominator`` as a percentage; None for an empty denominator."""
    if not denominator:
        return None
    return 100.0 * numerator / denominator


def nps(scores: Iterable[int]) -> float | None:
    """Net Promoter Score: % promoters (9–10) − % detractors (0–6), from −100 to +100."""
    values = list(scores)
    if not values:
        return None
    promoters = sum(1 for score in values if score in NPS_PROMOTERS)
    detractors = sum(1 for score in values if score in NPS_DETRACTORS)
    return 100.0 * (promoters - detractors) / len(values)


def csat(scores: Iterable[int]) -> float | None:
    """CSAT: % of answers that are 4 or 5 (of 1..5)."""
    values = list(scores)
    return rate(sum(1 for score in values if score in CSAT_SATISFIED), len(values))


def average(values: Iterable[float]) -> float | None:
    """The arithmetic mean (the CES figure is the average of the 1..7 answers)."""
    items = list(values)
    return sum(items) / len(items) if items else None


def median(values: Iterable[float]) -> float | None:
    """The middle value; for an even count, the mean of the two middle values."""
    items = sorted(values)
    if not items:
        return None
    middle = len(items) // 2
    if len(items) % 2:
        return float(items[middle])
    return (items[middle - 1] + items[middle]) / 2.0


def percentile(values: Iterable[float], share: float) -> float | None:
    """The ``share`` (0..100) percentile, interpolating linearly between ranks (numpy's default).

    ``percentile(v, 50)`` equals :func:`median`.
    """
    if not 0 <= share <= 100:
        raise ValueError(f"a percentile is between 0 and 100, not {share}")
    items: Sequence[float] = sorted(values)
    if not items:
        return None
    position = (len(items) - 1) * share / 100.0
    below, above = math.floor(position), math.ceil(position)
    if below == above:
        return float(items[below])
    return items[below] + (items[above] - items[below]) * (position - below)


def rounded(value: float | None, places: int = 1) -> float | None:
    """Round for display; None stays None."""
    return None if value is None else round(value, places)


def change(value: float | None, previous: float | None) -> float | None:
    """``value − previous`` (percentage points for percentages); None unless both are known."""
    if value is None or previous is None:
        return None
    return value - previous
