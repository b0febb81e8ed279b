"""The ``surveys:`` section of business.yml: which survey, when, how often, and where unhappy answers go.

A support lead tunes surveys without touching Python or retraining: every value is read
at the moment a survey could be asked (``load_survey_settings`` caches per file, like
bot/business.py). A wrong value fails with the key's name and what it accepts, so a
typo never silently switches surveys off. The wording of each survey is in domain.yml.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.business import BusinessSettingsError, business_file
from bot.settings import expand
from bot.surveys.models import KINDS

NONE = "none"
SECTION = "surveys"


class SurveySettingsError(BusinessSettingsError):
    """business.yml's ``surveys:`` section has a value of the wrong type or out of range."""


@dataclass(frozen=True)
class SurveySettings:
    enabled: bool = True
    # The survey after the bot resolved a conversation / after an agent resolved a handoff.
    after_bot_resolved: str = "csat"  # csat | ces | nps | none
    after_agent: str = "csat"
    # This share of the surveys asked is NPS instead of the kind above (0..1) ...
    nps_share: float = 0.0
    # ... but a customer gets NPS at most once in this many days, across channels.
    nps_throttle_days: float = 30.0
    # Any survey at most once per customer in this many days (0: once per conversation).
    throttle_days: float = 0.0
    sample_rate: float = 1.0  # share of the conversations that are asked at all
    expire_minutes: float = 30.0  # an unanswered survey ends (the next message is a normal question)
    ask_comment: bool = True  # ask for an optional comment ("why?") after the score
    # Slack channel id for unhappy answers after a handoff; empty: the handoff's own thread
    # (Slack) or the handoff in the inbox (no Slack).
    followup_channel: str = ""

    def kind_for(self, trigger: str) -> str:
        """The configured kind for a trigger (``bot_resolved`` or ``after_agent``), or ``none``."""
        return self.after_agent if trigger == "after_agent" else self.after_bot_resolved


def load_survey_settings(path: Path | None = None) -> SurveySettings:
    """The ``surveys:`` section of ``path`` or of the business.yml in use (defaults when absent)."""
    return _load(path or business_file())


@lru_cache(maxsize=8)
def _load(path: Path) -> SurveySettings:
    document = expand(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, where=path.name)
    return parse_survey_settings(document.get(SECTION), where=str(path))


def parse_survey_settings(raw: Any, where: str = "business.yml") -> SurveySettings:
    """Typed settings from the section's mapping; errors name ``surveys.<key>`` and the fix."""
    if raw is None:
        return SurveySettings()
    if not isinstance(raw, dict):
        raise SurveySettingsError(f"{where}: 'surveys' must be a mapping of settings, not {raw!r}")
    known = {
        "enabled", "after_bot_resolved", "after_agent", "nps", "throttle_days", "sample_rate",
        "expire_minutes", "ask_comment", "followup_channel",
    }  # fmt: skip
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SurveySettingsError(
            f"{where}: unknown key(s) surveys.{', surveys.'.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    nps = raw.get("nps") or {}
    if not isinstance(nps, dict):
        raise SurveySettingsError(f"{where}: surveys.nps must be a mapping with share and throttle_days")
    unknown_nps = sorted(set(nps) - {"share", "throttle_days"})
    if unknown_nps:
        raise SurveySettingsError(f"{where}: unknown key(s) surveys.nps.{', surveys.nps.'.join(unknown_nps)}")
    defaults = SurveySettings()
    channel = raw.get("followup_channel")
    return SurveySettings(
        enabled=_flag(raw, "enabled", defaults.enabled, where),
        after_bot_resolved=_kind(raw, "after_bot_resolved", defaults.after_bot_resolved, where),
        after_agent=_kind(raw, "after_agent", defaults.after_agent, where),
        nps_share=_number(nps, "share", defaults.nps_share, where, prefix="nps.", high=1.0),
        nps_throttle_days=_number(nps, "throttle_days", defaults.nps_throttle_days, where, prefix="nps."),
        throttle_days=_number(raw, "throttle_days", defaults.throttle_days, where),
        sample_rate=_number(raw, "sample_rate", defaults.sample_rate, where, high=1.0),
        expire_minutes=_number(raw, "expire_minutes", defaults.expire_minutes, where, positive=True),
        ask_comment=_flag(raw, "ask_comment", defaults.ask_comment, where),
        followup_channel=_channel(channel, where),
    )


def _flag(raw: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise SurveySettingsError(f"{where}: surveys.{key} must be true or false, not {value!r}")
    return value


def _kind(raw: dict[str, Any], key: str, default: str, where: str) -> str:
    value = str(raw.get(key, default)).strip().lower()
    if value not in (*KINDS, NONE):
        raise SurveySettingsError(
            f"{where}: surveys.{key} must be one of {', '.join((*KINDS, NONE))}, not {raw.get(key)!r}"
        )
    return value


def _number(
    raw: dict[str, Any],
    key: str,
    default: float,
    where: str,
    *,
    prefix: str = "",
    high: float | None = None,
    positive: bool = False,
) -> float:
    value = raw.get(key, default)
    name = f"surveys.{prefix}{key}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SurveySettingsError(f"{where}: {name} must be a number, not {value!r}")
    number = float(value)
    if number < 0 or (positive and number == 0) or (high is not None and number > high):
        allowed = f"between 0 and {high:g}" if high is not None else ("above 0" if positive else "0 or more")
        raise SurveySettingsError(f"{where}: {name} must be {allowed}, not {value!r}")
    return number


def _channel(value: Any, where: str) -> str:
    if value is None:
        return ""
    text = str(value).strip()
    if text and (not text.isalnum() or not text.isupper() or text[0] not in "CGD"):
        raise SurveySettingsError(
            f"{where}: surveys.followup_channel must be a Slack channel id such as C0123456789 "
            f"(or empty for the handoff's own thread), not {value!r}"
        )
    return text
