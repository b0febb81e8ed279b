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
    pattern = r"client\.(chat_\w+|users_\w+|usergroups_\w+|views_\w+|reactions_\w+|conversations_\w+)\b"
    methods = set(re.findall(pattern, relay_source()))
    assert methods == {
        "chat_postMessage", "chat_update", "chat_postEphemeral", "users_info", "usergroups_users_list",
        "views_open", "conversations_replies", "conversations_history", "chat_getPermalink",
    }  # fmt: skip
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    # chat.postMessage/chat.update/chat.postEphemeral: chat:write; users.info: users:read;
    # usergroups.users.list (SLACK_AGENT_GROUP / SLACK_LEAD_GROUP): usergroups:read; views.open,
    # chat.getPermalink (survey follow-ups link the thread) and auth.test
    # need none; thread replies arrive as message events: channels:history
    # (public) / groups:history (private), which also cover conversations.replies/history (the
    # outbox looks there for its own post after a crash, bot/handoff/desks/slack/desk.py).
    assert scopes == {"chat:write", "users:read", "usergroups:read", "channels:history", "groups:history"}


def test_events_and_interactivity_point_at_the_relay_endpoint() -> None:
    settings = manifest()["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {"message.channels", "message.groups"}
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"].endswith("/slack/events")
    assert '"/slack/events"' in relay_source()
