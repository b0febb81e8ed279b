"""Credentials of the services we talk to: the agents' Slack app and the brand's X account.

One rule for both: a key in the YAML file wins (``business.yml`` → ``slack:``;
``credentials.yml`` → ``bot.channels.x.XInput:``, the X channel's own section), else the
environment variable. A YAML value may be ``${VAR}`` (expanded by bot/settings.py, with an
error naming ``VAR`` when it is unset), so a deployment can keep the secrets out of files.

This module only gathers the values; whether they fit together (all three Slack values or
none, Socket Mode needs an app token, …) is checked where they are used:
``bot.handoff.settings.slack_settings`` and ``bot.channels.x_api.x_settings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from bot.settings import (
    build,
    business_file,
    env_names,
    environment,
    expand,
    meta,
    without_secrets,
    yaml_section,
)

SLACK, X = "business.yml → slack.", "credentials.yml → bot.channels.x.XInput."


@dataclass(frozen=True)
class SlackValues:
    """The agents' Slack app (handoff desk): token, secret and channel, or none for the local inbox.

    The last four say who may act on a card (docs/slack.md, "Who may act on a handoff").
    """

    bot_token: str = field(
        default="",
        metadata=meta("Bot User OAuth Token (xoxb-…)", "SLACK_BOT_TOKEN", SLACK + "bot_token", secret=True),
    )
    signing_secret: str = field(
        default="",
        metadata=meta(
            "the app's Signing Secret", "SLACK_SIGNING_SECRET", SLACK + "signing_secret", secret=True
        ),
    )
    handoff_channel: str = field(
        default="",
        metadata=meta("channel id for the cards", "SLACK_HANDOFF_CHANNEL", SLACK + "handoff_channel"),
    )
    mode: str = field(
        default="http", metadata=meta("`http` or `socket` (Socket Mode)", "SLACK_MODE", SLACK + "mode")
    )
    app_token: str = field(
        default="",
        metadata=meta(
            "app-level token (xapp-…) for Socket Mode", "SLACK_APP_TOKEN", SLACK + "app_token", secret=True
        ),
    )
    api_url: str = field(
        default="", metadata=meta("another Slack Web API URL (tests)", "SLACK_API_URL", SLACK + "api_url")
    )
    team_id: str = field(
        default="",
        metadata=meta(
            "the only workspace (T…) whose events and clicks count (default: the bot token's, auth.test)",
            "SLACK_TEAM_ID",
            SLACK + "team_id",
        ),
    )
    agent_group: str = field(
        default="",
        metadata=meta(
            "user group id (S…): only its members may claim, reply and resolve (default: any full member)",
            "SLACK_AGENT_GROUP",
            SLACK + "agent_group",
        ),
    )
    lead_users: str = field(
        default="",
        metadata=meta(
            "comma-separated user ids (U…) who may resolve or take over anyone's handoff",
            "SLACK_LEAD_USERS",
            SLACK + "lead_users",
        ),
    )
    lead_group: str = field(
        default="",
        metadata=meta(
            "user group id (S…) whose members are leads too", "SLACK_LEAD_GROUP", SLACK + "lead_group"
        ),
    )


@dataclass(frozen=True)
class XValues:
    """The brand's X (Twitter) account: the four keys and secrets, or none (X off)."""

    consumer_key: str = field(
        default="", metadata=meta("the app's API key", "X_CONSUMER_KEY", X + "consumer_key", secret=True)
    )
    consumer_secret: str = field(
        default="", metadata=meta("API key secret", "X_CONSUMER_SECRET", X + "consumer_secret", secret=True)
    )
    access_token: str = field(
        default="",
        metadata=meta("the brand's access token", "X_ACCESS_TOKEN", X + "access_token", secret=True),
    )
    access_token_secret: str = field(
        default="",
        metadata=meta("its secret", "X_ACCESS_TOKEN_SECRET", X + "access_token_secret", secret=True),
    )
    account_id: str = field(
        default="",
        metadata=meta("the brand's account id (default: looked up)", "X_ACCOUNT_ID", X + "account_id"),
    )
    bearer_token: str = field(
        default="",
        metadata=meta("app bearer token (optional)", "X_BEARER_TOKEN", X + "bearer_token", secret=True),
    )
    mode: str = field(default="polling", metadata=meta("`polling` or `webhook`", "X_MODE", X + "mode"))
    poll_interval: str = field(
        default="60", metadata=meta("seconds between polls", "X_POLL_INTERVAL", X + "poll_interval")
    )
    timeout: str = field(
        default="30",
        metadata=meta("seconds one X API call may take before it is abandoned and retried", "X_TIMEOUT",
                      X + "timeout"),
    )  # fmt: skip
    api_url: str = field(default="", metadata=meta("another X API URL (tests)", "X_API_URL", X + "api_url"))


SECTIONS: tuple[type, ...] = (SlackValues, XValues)
for _section in SECTIONS:
    without_secrets(_section)


def slack_values() -> dict[str, str]:
    """The Slack desk's values by variable name: business.yml ``slack:`` first, then the environment."""
    section = yaml_section(business_file(), "slack")
    return _by_env_name(build(SlackValues, environment(env_names([SlackValues])), section))


def x_values(section: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The X account's values by variable name: credentials.yml's ``section`` first, then the environment."""
    expanded = expand(dict(section or {}), where="credentials.yml: bot.channels.x.XInput")
    return _by_env_name(build(XValues, environment(env_names([XValues])), expanded))


def _by_env_name(values: Any) -> dict[str, str]:
    return {item.metadata["env"]: str(getattr(values, item.name)) for item in fields(values)}
