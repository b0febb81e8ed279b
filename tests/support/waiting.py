"""Polling with a deadline: what the end-to-end tests use instead of sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], timeout: float = 30.0, what: str = "condition", every: float = 0.2
) -> T:
    """``condition()``'s first truthy result; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(every)
