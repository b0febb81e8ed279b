"""Business settings from ``nlu_data/business.yml``: numbers the bot computes with."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.settings import project_root


@dataclass(frozen=True)
class BusinessSettings:
    name: str
    return_window_days: int
    refund_days: str


class BusinessSettingsError(ValueError):
    """business.yml is missing a value or has one of the wrong type."""


@lru_cache(maxsize=4)
def load_business_settings(path: Path | None = None) -> BusinessSettings:
    path = path or project_root() / "nlu_data" / "business.yml"
    raw = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("business") or {}
    try:
        return BusinessSettings(
            name=str(raw["name"]),
            return_window_days=int(raw["return_window_days"]),
            refund_days=str(raw["refund_days"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BusinessSettingsError(
            f"{path}: 'business' needs name, return_window_days (a whole number of days) "
            f"and refund_days ({exc!r})"
        ) from exc
