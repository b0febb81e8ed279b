"""Where the relay connects: Slack (optional), the Rasa server, the event stream.

Slack's values come from business.yml → ``slack:`` or, for keys it lacks, from these
environment variables (bot/credentials.py; all settings: docs/configuration.md):

- ``SLACK_BOT_TOKEN`` (xoxb-…), ``SLACK_SIGNING_SECRET``, ``SLACK_HANDOFF_CHANNEL``
  (channel id or #name): with all three set, handoffs go to Slack; without them, to the
  local agent inbox at ``/inbox`` on the relay.
- ``SLACK_MODE``: ``http`` (default; Slack posts to ``/slack/events``) or ``socket``
  (Socket Mode, needs ``SLACK_APP_TOKEN`` xapp-…; nothing has to be reachable from Slack).
- ``SLACK_API_URL``: Slack Web API base URL (tests point it at a fake server).
- Who may act on a card (bot/handoff/desks/slack/access.py): ``SLACK_TEAM_ID`` (default:
  the bot token's workspace), ``SLACK_AGENT_GROUP`` (a user group id), ``SLACK_LEAD_USERS``
  and ``SLACK_LEAD_GROUP`` (who may resolve or take over someone else's handoff).
- ``RASA_URL`` / ``RASA_AUTH_TOKEN``: the Rasa server's HTTP API.

Which event broker the relay follows comes from Rasa's endpoints file (``bot.event_stream``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.business import BusinessSettingsError
from bot.credentials import slack_values
from bot.event_stream import EventSource
from bot.handoff.routing import load_routing_settings
from bot.settings import SettingsError


class RelaySettingsError(ValueError):
    """The relay is configured in a way that cannot work; the message says how to fix it."""


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str
    signing_secret: str
    channel: str
    mode: str = "http"
    app_token: str | None = None
    api_url: str | None = None
    team_id: str | None = None  # None: the bot token's workspace, learned from auth.test
    agent_group: str | None = None  # None: any full member of the workspace in the channel
    lead_users: frozenset[str] = field(default_factory=frozenset)
    lead_group: str | None = None
    # The routed teams' channels (business.yml ``routing:``, bot/handoff/routing.py): cards are
    # posted there too, so requests from them are accepted like the handoff channel's.
    team_channels: frozenset[str] = field(default_factory=frozenset)


# Slack's id shapes: workspaces T… (Enterprise Grid orgs E…), user groups S…, users U…/W….
TEAM_ID = re.compile(r"[TE][A-Z0-9]{2,}")
GROUP_ID = re.compile(r"S[A-Z0-9]{2,}")
USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")


def _slack_id(env: dict[str, str], name: str, shape: re.Pattern[str], example: str) -> str | None:
    value = env.get(name, "").strip()
    if value and not shape.fullmatch(value):
        raise RelaySettingsError(
            f"{name}={value!r} is not a Slack id; set it to one like {example} (see docs/slack.md, "
            "'Who may act on a handoff') or leave it unset"
        )
    return value or None


def _lead_users(env: dict[str, str]) -> frozenset[str]:
    ids = [part.strip() for part in env.get("SLACK_LEAD_USERS", "").split(",") if part.strip()]
    wrong = [i for i in ids if not USER_ID.fullmatch(i)]
    if wrong:
        raise RelaySettingsError(
            f"SLACK_LEAD_USERS has {', '.join(map(repr, wrong))}, which are not Slack user ids; write "
            "them comma-separated like U0123ABCD,U0456EFGH (profile → ⋮ → Copy member ID)"
        )
    return frozenset(ids)


@dataclass(frozen=True)
class RelaySettings:
    rasa_url: str
    rasa_token: str | None
    events: EventSource
    slack: SlackSettings | None
    poll_interval: float = 0.2


def slack_settings(environ: dict[str, str] | None = None) -> SlackSettings | None:
    """Slack settings (business.yml ``slack:``, else SLACK_* variables); None for the local agent inbox."""
    try:
        env = slack_values() if environ is None else environ
    except SettingsError as exc:  # a ${VAR} in business.yml that is not set
        raise RelaySettingsError(str(exc)) from exc
    token, secret, channel = (
        env.get(k, "").strip() for k in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_HANDOFF_CHANNEL")
    )
    if not (token or secret or channel):
        return None
    missing = [
        name
        for name, value in (
            ("SLACK_BOT_TOKEN", token),
            ("SLACK_SIGNING_SECRET", secret),
            ("SLACK_HANDOFF_CHANNEL", channel),
        )
        if not value
    ]
    if missing:
        raise RelaySettingsError(
            f"Slack handoff is half configured: set {', '.join(missing)} too (see docs/slack.md, "
            "'Connect Slack'), or unset all SLACK_* variables to use the local agent inbox."
        )
    mode = env.get("SLACK_MODE", "http").strip().lower() or "http"
    app_token = env.get("SLACK_APP_TOKEN", "").strip() or None
    if mode not in ("http", "socket"):
        raise RelaySettingsError(f"SLACK_MODE must be 'http' or 'socket', not {mode!r}")
    if mode == "socket" and not (app_token or "").startswith("xapp-"):
        # slack_sdk retries a refused token for ever: say it here instead of a worker that never starts.
        raise RelaySettingsError(
            "SLACK_MODE=socket needs SLACK_APP_TOKEN, an app-level token starting xapp- "
            "(Slack app settings → Basic Information → App-Level Tokens, scope connections:write)"
        )
    try:
        team_channels = load_routing_settings().slack_channels()
    except BusinessSettingsError as exc:  # business.yml routing: names the key to fix
        raise RelaySettingsError(str(exc)) from exc
    return SlackSettings(
        bot_token=token,
        signing_secret=secret,
        channel=channel,
        mode=mode,
        app_token=app_token,
        api_url=env.get("SLACK_API_URL", "").strip() or None,
        team_id=_slack_id(env, "SLACK_TEAM_ID", TEAM_ID, "T0123ABCD"),
        agent_group=_slack_id(env, "SLACK_AGENT_GROUP", GROUP_ID, "S0123ABCD"),
        lead_users=_lead_users(env),
        lead_group=_slack_id(env, "SLACK_LEAD_GROUP", GROUP_ID, "S0456EFGH"),
        team_channels=team_channels,
    )
