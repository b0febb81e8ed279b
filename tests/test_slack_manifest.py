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
        "views_open", "chat_getPermalink",  # never conversations.history/.replies: see below
        "views_publish",  # App Home (bot/handoff/desks/slack/home.py): no scope needed
    }  # fmt: skip
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    # chat.postMessage/chat.update/chat.postEphemeral: chat:write; users.info: users:read;
    # usergroups.users.list (SLACK_AGENT_GROUP / SLACK_LEAD_GROUP): usergroups:read; views.open,
    # chat.getPermalink (survey follow-ups link the thread) and auth.test
    # need none; thread replies arrive as message events: channels:history
    # (public) / groups:history (private). Slack is never read back (1 request a minute outside
    # the Marketplace): our posts are written down (bot/handoff/desks/slack/posts.py), also from
    # the message_metadata_posted event, which needs metadata.message:read.
    assert scopes == {
        "chat:write", "users:read", "usergroups:read", "channels:history", "groups:history",
        "metadata.message:read",
        "commands",  # the saved-reply shortcut and slash command (checked below)
    }  # fmt: skip


def test_events_and_interactivity_point_at_the_relay_endpoint() -> None:
    settings = manifest()["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "message.channels", "message.groups",
        "app_home_opened",  # the App Home queue (bot/handoff/desks/slack/home.py)
        "message_metadata_posted",  # our own posts, recorded (bot/handoff/desks/slack/post_events.py)
    }  # fmt: skip
    assert manifest()["features"]["app_home"]["home_tab_enabled"] is True
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"].endswith("/slack/events")
    assert '"/slack/events"' in relay_source()


def test_the_metadata_subscription_is_the_type_our_posts_carry_and_is_listened_to() -> None:
    from bot.handoff.desks.slack.desk import DELIVERY_EVENT

    subscriptions = manifest()["settings"]["event_subscriptions"]["metadata_subscriptions"]
    assert subscriptions == [{"app_id": "*", "event_type": DELIVERY_EVENT}]  # "*": checked in code
    assert '@app.event("message_metadata_posted")' in relay_source()
    assert "metadata.message:read" in manifest()["oauth_config"]["scopes"]["bot"]


def test_the_saved_reply_shortcut_and_command_are_the_ones_the_code_listens_to() -> None:
    from bot.handoff.desks.slack.saved_reply_views import COMMAND, SHORTCUT

    features = manifest()["features"]
    assert [(s["type"], s["callback_id"]) for s in features["shortcuts"]] == [("message", SHORTCUT)]
    [command] = features["slash_commands"]
    assert command["command"] == COMMAND and command["url"].endswith("/slack/events")
    source = relay_source()
    assert "@app.shortcut(SHORTCUT)" in source and "@app.command(COMMAND)" in source
