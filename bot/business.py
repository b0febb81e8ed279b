"""Business settings from the top-level ``business.yml``: numbers and switches the bot works with.

A support lead edits that file, not Python; this module turns it into typed settings and
says exactly which key is wrong when it cannot. ``SUPPORTBOT_BUSINESS_FILE`` points at
another copy (tests use it for "always open" hours and short claim timeouts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.settings import business_file as settings_business_file
from bot.settings import expand

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class BusinessSettingsError(ValueError):
    """business.yml is missing a value or has one of the wrong type."""


@dataclass(frozen=True)
class BusinessHours:
    """When people are available to take over a conversation."""

    timezone: str
    days: frozenset[str]
    opens: time
    closes: time

    def is_open(self, moment: datetime) -> bool:
        """Whether ``moment`` (timezone-aware) falls inside the opening hours."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        if DAY_NAMES[local.weekday()] not in self.days:
            return False
        if self.opens == self.closes:  # "00:00" to "00:00": open all day
            return True
        return self.opens <= local.time() < self.closes

    def describe(self) -> str:
        """Customer-facing wording, e.g. "Mon–Sat 08:00–20:00 (Europe/London time)"."""
        ordered = [day for day in DAY_NAMES if day in self.days]
        if len(ordered) == 7:
            days = "every day"
        elif len(ordered) == 1:
            days = ordered[0].title()
        elif ordered == list(DAY_NAMES[DAY_NAMES.index(ordered[0]) : DAY_NAMES.index(ordered[-1]) + 1]):
            days = f"{ordered[0].title()}–{ordered[-1].title()}"
        else:
            days = ", ".join(day.title() for day in ordered)
        if self.opens == self.closes:
            return f"{days}, around the clock"
        return f"{days} {self.opens:%H:%M}–{self.closes:%H:%M} ({self.timezone} time)"


@dataclass(frozen=True)
class HandoffTriggers:
    customer_asks: bool = True
    not_understood_twice: bool = True
    upset_customer: bool = True
    self_service_failed: bool = True


@dataclass(frozen=True)
class HandoffSettings:
    triggers: HandoffTriggers
    # The one anger threshold: labels a message "angry" (bot/nlu/sentiment.py) and brings in
    # a person (bot/policies.py, actions/handoff.py).
    upset_threshold: float
    claim_timeout: timedelta
    expected_wait_minutes: float
    internal_note_prefix: str
    business_hours: BusinessHours
    # A claimed handoff with no agent reply for this long (business minutes) gets an honest
    # "still looking into it" to the customer (bot/handoff/sla_job.py); 0: never.
    still_looking_after_minutes: float = 10.0


@dataclass(frozen=True)
class Wording:
    """Words filled into answers where a fact is not known yet (texts customers read)."""

    unknown_carrier: str
    tracking_not_yet: str
    date_not_yet: str
    email_on_account: str


@dataclass(frozen=True)
class BusinessSettings:
    name: str
    return_window_days: int
    refund_days: str
    handoff: HandoffSettings
    wording: Wording
    # ISO 639-1 codes the bot answers in (domain.yml has response variants per language);
    # a message in any other language gets an honest "help is in English or a person".
    languages: tuple[str, ...] = ("en",)


def business_file() -> Path:
    """The business.yml in use: ``SUPPORTBOT_BUSINESS_FILE`` or ``business.yml`` in the project root.

    It sits next to domain.yml, not in nlu_data/, because it is not training data: Rasa
    would try to read every YAML file under the data directory.
    """
    return settings_business_file()


def load_business_settings(path: Path | None = None) -> BusinessSettings:
    """Settings from ``path`` or the business.yml in use (parsed once per file)."""
    return _load(path or business_file())


@lru_cache(maxsize=8)
def _load(path: Path) -> BusinessSettings:
    # ${VAR} anywhere in the file comes from the environment (an unset one is an error naming it).
    document = expand(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, where=path.name)
    raw = document.get("business") or {}
    try:
        return BusinessSettings(
            name=str(raw["name"]),
            return_window_days=int(raw["return_window_days"]),
            refund_days=str(raw["refund_days"]),
            handoff=_handoff_settings(document.get("handoff") or {}),
            wording=Wording(**{key: str(value) for key, value in (document.get("wording") or {}).items()}),
            languages=_languages(raw.get("languages", ["en"])),
        )
    except (KeyError, TypeError, ValueError, ZoneInfoNotFoundError) as exc:
        raise BusinessSettingsError(
            f"{path}: {exc}. 'business' needs name, return_window_days (whole days) and "
            "refund_days; 'wording' needs unknown_carrier, tracking_not_yet, date_not_yet and "
            "email_on_account; 'handoff' needs numbers for upset_threshold, claim_timeout_minutes and "
            "expected_wait_minutes, and business_hours with a timezone (e.g. Europe/London), "
            'days (mon..sun) and open/close times as "HH:MM"'
        ) from exc


def _handoff_settings(raw: dict[str, Any]) -> HandoffSettings:
    triggers = raw.get("triggers") or {}
    hours = raw.get("business_hours") or {}
    days = frozenset(str(day).lower()[:3] for day in hours.get("days", DAY_NAMES))
    unknown = days - set(DAY_NAMES)
    if unknown:
        raise ValueError(f"business_hours.days has unknown day(s) {sorted(unknown)}")
    timezone = str(hours.get("timezone", "UTC"))
    ZoneInfo(timezone)  # fail early on a misspelt zone
    upset_threshold = float(raw.get("upset_threshold", 0.6))
    if not 0.0 < upset_threshold <= 1.0:
        raise ValueError(
            f"handoff.upset_threshold must be in (0, 1] (0.6 = clearly angry), not {upset_threshold}"
        )
    return HandoffSettings(
        triggers=HandoffTriggers(
            customer_asks=bool(triggers.get("customer_asks", True)),
            not_understood_twice=bool(triggers.get("not_understood_twice", True)),
            upset_customer=bool(triggers.get("upset_customer", True)),
            self_service_failed=bool(triggers.get("self_service_failed", True)),
        ),
        upset_threshold=upset_threshold,
        claim_timeout=timedelta(minutes=float(raw.get("claim_timeout_minutes", 5))),
        expected_wait_minutes=float(raw.get("expected_wait_minutes", 3)),
        internal_note_prefix=str(raw.get("internal_note_prefix", "//")),
        business_hours=BusinessHours(
            timezone=timezone,
            days=days,
            opens=_clock(hours.get("open", "00:00"), "open"),
            closes=_clock(hours.get("close", "00:00"), "close"),
        ),
        still_looking_after_minutes=_still_looking(raw.get("still_looking_after_minutes", 10)),
    )


def _languages(value: Any) -> tuple[str, ...]:
    codes = [value] if isinstance(value, str) else list(value or [])
    languages = tuple(str(code).strip().lower() for code in codes)
    bad = [code for code in languages if not re.fullmatch(r"[a-z]{2}", code)]
    if not languages or bad:
        raise ValueError(
            f"business.languages must list two-letter ISO 639-1 codes such as [en, es, de], not {value!r}"
        )
    return languages


def _still_looking(value: Any) -> float:
    minutes = float(value)
    if minutes < 0:
        raise ValueError(f"handoff.still_looking_after_minutes must be 0 (off) or more, not {value!r}")
    return minutes


def _clock(value: Any, key: str) -> time:
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise ValueError(f'business_hours.{key} must look like "08:00", not {value!r}') from exc
