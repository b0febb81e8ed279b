"""The shipped Slack app manifest asks for exactly what the relay uses."""

from __future__ import annotations

import re

import yaml

from tests.support import ROOT


def manifest() -> dict:
    return yaml.safe_load((ROOT / "slack_app_manifest.yml").read_text(encoding="utf-8"))


def relay_source() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "bot" / "handoff").rglob("*.py"))


def test_scopes_match_the_web_api_methods_the_relay_calls() -> None:
    methods = set(re.findall(r"client\.(chat_\w+|users_\w+|views_\w+|reactions_\w+)\b", relay_source()))
    assert methods == {"chat_postMessage", "chat_update", "users_info", "views_open"}
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    # chat.postMessage/chat.update: chat:write; users.info: users:read; views.open needs none;
    # thread replies arrive as message events: channels:history (public) / groups:history (private).
    assert scopes == {"chat:write", "users:read", "channels:history", "groups:history"}


def test_events_and_interactivity_point_at_the_relay_endpoint() -> None:
    settings = manifest()["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {"message.channels", "message.groups"}
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"].endswith("/slack/events")
    assert '"/slack/events"' in relay_source()
