"""Build rasa-sdk trackers the way the Rasa server sends them to the action server."""

from __future__ import annotations

from typing import Any

import yaml
from rasa_sdk import Tracker

from tests.support import ROOT

DOMAIN: dict[str, Any] = yaml.safe_load((ROOT / "domain.yml").read_text())


def user(text: str, intent: str, confidence: float = 0.95, channel: str = "rest", **entities: str) -> dict:
    return {
        "event": "user",
        "text": text,
        "timestamp": 1_700_000_000.0,
        "input_channel": channel,
        "parse_data": {
            "intent": {"name": intent, "confidence": confidence},
            "entities": [{"entity": k, "value": v} for k, v in entities.items()],
            "text": text,
        },
    }


def bot(text: str) -> dict:
    return {"event": "bot", "text": text, "timestamp": 1_700_000_001.0}


def tracker(sender: str, events: list[dict], **slots: Any) -> Tracker:
    latest = next((e for e in reversed(events) if e["event"] == "user"), {"parse_data": {}})
    all_slots = {name: None for name in DOMAIN["slots"]}
    all_slots.update(slots)
    return Tracker(
        sender_id=sender,
        slots=all_slots,
        latest_message=latest["parse_data"],
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )
