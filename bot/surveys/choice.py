"""Which survey (if any) a conversation gets: switched on, sampled, throttled, NPS share (pure).

Sampling and the NPS share are decided by a hash of the conversation key, not a random
draw: the same conversation always gets the same decision (an action retried by Rasa
does not flip a coin again), and over many conversations the shares are what the
settings say.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from bot.surveys.models import NPS
from bot.surveys.settings import NONE, SurveySettings


def fraction(conversation_key: str, salt: str) -> float:
    """A stable number in [0, 1) for this conversation and purpose."""
    digest = hashlib.sha256(f"{salt}:{conversation_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _within(last: datetime | None, days: float, now: datetime) -> bool:
    return last is not None and days > 0 and now - last < timedelta(days=days)


def choose_kind(
    settings: SurveySettings,
    trigger: str,
    conversation_key: str,
    *,
    last_any: datetime | None,
    last_nps: datetime | None,
    now: datetime,
) -> str | None:
    """The kind to ask (csat, nps, ces), or None: off, not sampled, or throttled for this customer.

    ``last_any``/``last_nps``: when this customer (on any channel) was last asked any survey /
    an NPS survey. NPS is asked instead of the configured kind for ``nps_share`` of the
    conversations, unless the customer had one within ``nps_throttle_days``: then the
    configured kind is asked (or nothing, when NPS is the configured kind).
    """
    configured = settings.kind_for(trigger)
    if not settings.enabled or configured == NONE:
        return None
    if fraction(conversation_key, "sample") >= settings.sample_rate:
        return None
    if _within(last_any, settings.throttle_days, now):
        return None
    wanted = configured
    if (
        configured != NPS
        and settings.nps_share > 0
        and fraction(conversation_key, "nps") < settings.nps_share
    ):
        wanted = NPS
    if wanted == NPS and _within(last_nps, settings.nps_throttle_days, now):
        return None if configured == NPS else configured
    return wanted
