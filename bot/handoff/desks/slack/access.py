"""Who may act on a handoff card in Slack, and what someone who may not is told.

Why: the signing secret proves that a request comes from Slack, not that the person behind
it is one of our agents. Anyone who can see the handoff channel (a Slack Connect guest from
another company, a single-channel guest, a colleague outside support) could otherwise
claim a customer, write to them in the brand's name and resolve the handoff. The checks,
in the order ``bot/handoff/slack_app.py`` asks them:

1. **The request** (:meth:`SlackAccess.check_request`): it was delivered for our workspace
   (``SLACK_TEAM_ID``, else the bot token's, learned once from ``auth.test``) and its channel
   is the handoff channel (or a routed team's, business.yml ``routing:``). Anything else is
   dropped silently with a log line.
2. **The person** (:meth:`SlackAccess.check_agent`): their own team in the request is ours
   (a Slack Connect member's is not) and ``users.info`` says a full member of our
   workspace (not a guest, not external, not a bot, not deactivated) and, with
   ``SLACK_AGENT_GROUP``, a member of that user group (``usergroups.users.list``). Leads
   (``SLACK_LEAD_USERS`` / ``SLACK_LEAD_GROUP``) need not be in the agent group.
3. **The handoff** (:meth:`SlackAccess.check_owner`): once claimed, only its owner or a lead may
   resolve it, take it over or write to the customer in its thread.

People refused at 2 or 3 are told why in a message only they see (``chat.postEphemeral``).
Slack's answers are cached for :data:`CACHE_SECONDS`, so a removed agent loses access within
a minute. A failed lookup refuses (fail closed); only a Slack outage or rate limit raises, so
Slack retries the event later instead of the agent's reply being dropped.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.handoff.desks.slack.layout import own
from bot.handoff.settings import USER_ID, SlackSettings
from bot.handoff.states import HandoffStatus

if TYPE_CHECKING:
    from bot.handoff.store import HandoffRecord

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60.0
CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")

# Why a request or a person was refused: the log says the code, the person sees TELL.
FOREIGN_TEAM = "foreign-team"
FOREIGN_CHANNEL = "foreign-channel"
GUEST = "guest-or-external"
NOT_AN_AGENT = "not-in-agent-group"
UNKNOWN_USER = "unknown-user"
NOT_OWNER = "not-the-owner"

# Requests that come from no channel: a modal's submit, the App Home tab's buttons. They pass the
# workspace check only; their listeners check the person (check_agent) themselves.
CHANNELLESS = frozenset({"view_submission", "view_closed", "block_actions"})
# The Home tab opening names the app's own DM with the person (a ``D…`` id), never a handoff
# channel; our own posts' metadata events come from wherever we posted (a digest or survey
# channel too). Both get the workspace check only; their listeners check the rest.
ANY_CHANNEL = frozenset({"event app_home_opened", "event message_metadata_posted"})

NOTHING_DONE = "Nothing was changed and nothing was sent to the customer."
TELL = {
    GUEST: ":no_entry: Guests and people from other organisations can't act on handoff cards. "
    + NOTHING_DONE,
    NOT_AN_AGENT: ":no_entry: Only members of the support agents' user group can act on handoff "
    "cards; ask a lead to add you. " + NOTHING_DONE,
    UNKNOWN_USER: ":no_entry: Your Slack account could not be checked, so this was refused. " + NOTHING_DONE,
}
OWNER_TELL = {
    "claim": ":lock: {owner} has this handoff. Only they can hand it over, or a lead can take it over. "
    + NOTHING_DONE,
    "resolve": ":lock: {owner} has this handoff, so only they or a lead can resolve it. " + NOTHING_DONE,
    "transfer": ":lock: {owner} has this handoff, so only they or a lead can transfer or reassign it. "
    + NOTHING_DONE,
    "hand back": ":lock: {owner} has this handoff; only they or a lead can hand it back to the queue. "
    + NOTHING_DONE,
    "reply": ":lock: Not sent to the customer: {owner} has this handoff. Ask them or a lead to hand it "
    "over; internal notes (starting with {prefix}) are fine.",
}
# Slack errors a retry cannot fix, with the fix (the person is refused meanwhile).
HINTS = {
    "missing_scope": "add the usergroups:read scope (slack_app_manifest.yml) and reinstall the app",
    "no_such_subteam": "SLACK_AGENT_GROUP / SLACK_LEAD_GROUP is not a user group of this workspace",
    "subteam_not_found": "SLACK_AGENT_GROUP / SLACK_LEAD_GROUP is not a user group of this workspace",
    "user_not_found": "the user is not visible to the bot",
    "invalid_auth": "SLACK_BOT_TOKEN is wrong or revoked",
}


@dataclass(frozen=True)
class Origin:
    """What a Slack request says about where it comes from (ids only, never message text).

    ``teams``: the workspace the request was delivered for (the envelope); ``user_teams``: the
    acting person's own team, which differs for a Slack Connect member of another organisation.
    """

    kind: str
    teams: frozenset[str]
    user_teams: frozenset[str]
    channel: str | None
    user: str | None
    shared_channel: bool = False
    guest_flag: bool = False  # the event's own user_profile says guest


@dataclass(frozen=True)
class Refusal:
    reason: str
    tell: str | None = None  # what the refused person is shown; None: nobody is told


def _get(mapping: Any, *path: str) -> Any:
    for key in path:
        mapping = mapping.get(key) if isinstance(mapping, Mapping) else None
    return mapping


def origin(body: Mapping[str, Any]) -> Origin:
    """Where an Events API envelope or an interactivity payload comes from."""
    event = body.get("event") if isinstance(body.get("event"), Mapping) else {}
    profile = _get(event, "user_profile") or {}
    teams = {body.get("team_id"), _get(body, "team", "id"), body.get("context_team_id")}
    user_teams = {
        _get(body, "user", "team_id"),
        event.get("team"),
        event.get("user_team"),
        event.get("source_team"),
        _get(profile, "team"),
    }
    user = event.get("user") if event else (_get(body, "user", "id") or body.get("user_id"))  # or a command's
    channel = (
        event.get("channel") or event.get("channel_id") or _get(body, "channel", "id")
        or _get(body, "container", "channel_id") or body.get("channel_id")  # a slash command's
    )  # fmt: skip
    kind = f"event {event.get('type')}" if event else str(body.get("type") or body.get("command"))
    return Origin(
        kind=kind,
        teams=frozenset(str(t) for t in teams if t),
        user_teams=frozenset(str(t) for t in user_teams if t),
        channel=str(channel) if channel else None,
        user=str(user) if user else None,
        shared_channel=bool(body.get("is_ext_shared_channel")),
        guest_flag=bool(_get(profile, "is_restricted") or _get(profile, "is_ultra_restricted")),
    )


def mention(user_id: str | None, name: str | None) -> str:
    """``<@U…>`` for a real user id (no notification in an ephemeral message), else the escaped name."""
    if user_id and USER_ID.fullmatch(user_id):
        return f"<@{user_id}>"
    return own(name or "another agent", 80)


class SlackAccess:
    """The checks above, with Slack's answers cached for :data:`CACHE_SECONDS`."""

    def __init__(
        self,
        client: AsyncWebClient,
        settings: SlackSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.settings = settings
        self.clock = clock
        self._team: str | None = settings.team_id
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._warned_shared = False

    async def team(self) -> str:
        """Our workspace: ``SLACK_TEAM_ID``, else the bot token's (``auth.test``, asked once and logged)."""
        if self._team is None:
            answer = await self.client.auth_test()
            self._team = str(answer["team_id"])
            logger.info(
                "slack: accepting requests from workspace %s only (the bot token's, from auth.test); "
                "set SLACK_TEAM_ID to pin it",
                self._team,
            )
        return self._team

    def channel_allowed(self, channel: str | None) -> bool:
        """In the handoff channel or a routed team's; with a ``#name`` setting, checked per card
        instead (``on_card``)."""
        configured = self.settings.channel
        if channel is not None and channel in self.settings.team_channels:
            return True
        if not CHANNEL_ID.fullmatch(configured):
            return bool(channel)
        return channel == configured

    async def check_request(self, where: Origin) -> Refusal | None:
        """Our workspace and the handoff channel, or a refusal nobody is told about."""
        team = await self.team()
        if not where.teams or where.teams != {team}:
            return Refusal(FOREIGN_TEAM)
        if (where.channel is None and where.kind in CHANNELLESS) or where.kind in ANY_CHANNEL:
            return None
        if not self.channel_allowed(where.channel):
            return Refusal(FOREIGN_CHANNEL)
        if where.shared_channel and not self._warned_shared:
            self._warned_shared = True
            logger.warning(
                "slack: the handoff channel %s is shared with another organisation (Slack Connect): "
                "they can read the customers' data on the cards. Only members of %s can act on them; "
                "stop sharing the channel if that is not intended",
                where.channel,
                team,
            )
        return None

    async def check_agent(self, where: Origin) -> Refusal | None:
        """A full member of our workspace and, with SLACK_AGENT_GROUP, of that group (or a lead)."""
        user_id = where.user
        if not user_id:
            return Refusal(UNKNOWN_USER)
        if where.guest_flag or where.user_teams - {await self.team()}:
            return Refusal(GUEST, TELL[GUEST])
        user = await self._user(user_id)
        if user is None:
            return Refusal(UNKNOWN_USER, TELL[UNKNOWN_USER])
        if user.get("deleted") or user.get("is_bot") or user.get("is_app_user"):
            return Refusal(UNKNOWN_USER, None)
        outsider = user.get("team_id") not in (None, await self.team())
        if outsider or any(
            user.get(flag) for flag in ("is_restricted", "is_ultra_restricted", "is_stranger")
        ):
            return Refusal(GUEST, TELL[GUEST])
        group = self.settings.agent_group
        if group is None or await self.is_lead(user_id) or user_id in await self._members(group):
            return None
        return Refusal(NOT_AN_AGENT, TELL[NOT_AN_AGENT])

    async def check_owner(
        self, handoff: HandoffRecord, user_id: str, action: str, prefix: str = "//"
    ) -> Refusal | None:
        """Someone other than the owner (and not a lead) acting on a claimed handoff.

        ``action`` is ``claim`` (taking it over), ``resolve``, ``transfer``, ``hand back`` or ``reply``
        (writing to the customer).
        """
        if handoff.status != HandoffStatus.CLAIMED or handoff.claimed_by in (None, user_id):
            return None
        if await self.is_lead(user_id):
            return None
        owner = mention(handoff.claimed_by, handoff.claimed_by_name)
        return Refusal(NOT_OWNER, OWNER_TELL[action].format(owner=owner, prefix=own(prefix, 20)))

    async def is_lead(self, user_id: str) -> bool:
        if user_id in self.settings.lead_users:
            return True
        return self.settings.lead_group is not None and user_id in await self._members(
            self.settings.lead_group
        )

    async def tell(self, refusal: Refusal, where: Origin, thread_ts: str | None = None) -> None:
        """Show the refused person why, where only they see it; a failure is logged, not raised."""
        if refusal.tell is None or not where.user or not where.channel:
            return
        try:
            await self.client.chat_postEphemeral(
                channel=where.channel, user=where.user, text=refusal.tell, thread_ts=thread_ts
            )
        except (SlackApiError, OSError, TimeoutError) as exc:
            logger.warning("slack: could not tell user %s why they were refused: %r", where.user, exc)

    # --- Slack lookups, cached -----------------------------------------------------------

    async def _user(self, user_id: str) -> Mapping[str, Any] | None:
        async def fetch() -> Any:
            return (await self.client.users_info(user=user_id))["user"]

        return await self._cached(("user", user_id), fetch, f"users.info for {user_id}")

    async def _members(self, group: str) -> frozenset[str]:
        async def fetch() -> Any:
            answer = await self.client.usergroups_users_list(usergroup=group)
            return frozenset(str(u) for u in answer.get("users") or ())

        members = await self._cached(("group", group), fetch, f"usergroups.users.list for {group}")
        return members or frozenset()

    async def _cached(self, key: tuple[str, str], fetch: Callable[[], Any], what: str) -> Any:
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            value = await fetch()
        except SlackApiError as exc:
            status = exc.response.status_code
            if status == 429 or status >= 500:
                raise  # Slack is busy or down: the request fails and Slack retries it later
            error = str(exc.response.get("error"))
            logger.error(
                "slack: %s failed (%s); refusing: %s", what, error, HINTS.get(error, "see the error")
            )
            value = None
        self._cache[key] = (now + CACHE_SECONDS, value)
        return value
