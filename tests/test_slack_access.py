"""Who may act on a Slack handoff card: the settings and the checks, against the fake Slack.

The attacks against the running worker are in tests/security/test_slack_authorisation.py;
these are the fast checks of each rule (the real slack_sdk client, the fake over HTTP).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.handoff.desks.slack.access import (
    CACHE_SECONDS,
    FOREIGN_CHANNEL,
    FOREIGN_TEAM,
    GUEST,
    NOT_AN_AGENT,
    NOT_OWNER,
    Origin,
    SlackAccess,
    origin,
)
from bot.handoff.settings import RelaySettingsError, SlackSettings, slack_settings
from bot.handoff.states import HandoffStatus
from bot.handoff.store import HandoffRecord
from tests.fakes.slack import FakeSlack

FULL = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_HANDOFF_CHANNEL": "C0HANDOFF"}


def test_the_access_settings_are_slack_ids_and_a_wrong_one_names_the_setting() -> None:
    plain = slack_settings(FULL)
    assert plain is not None and (plain.team_id, plain.agent_group, plain.lead_users) == (None, None, set())
    full = slack_settings({
        **FULL, "SLACK_TEAM_ID": "T0001", "SLACK_AGENT_GROUP": "S0AGENTS",
        "SLACK_LEAD_USERS": " U0LEAD , W0BOSS ", "SLACK_LEAD_GROUP": "S0LEADS",
    })  # fmt: skip
    assert full is not None
    assert (full.team_id, full.agent_group, full.lead_group) == ("T0001", "S0AGENTS", "S0LEADS")
    assert full.lead_users == {"U0LEAD", "W0BOSS"}
    for name, value in (
        ("SLACK_TEAM_ID", "my-team"),
        ("SLACK_AGENT_GROUP", "@support"),
        ("SLACK_LEAD_USERS", "U0LEAD,alex"),
    ):
        with pytest.raises(RelaySettingsError, match=name):
            slack_settings({**FULL, name: value})


def test_origin_collects_every_team_the_request_names() -> None:
    event = {
        "team_id": "T0001",
        "event": {
            "type": "message", "user": "UPARTNER", "channel": "C0HANDOFF", "team": "T0PARTNER",
            "user_team": "T0PARTNER", "user_profile": {"team": "T0PARTNER", "is_restricted": False},
        },
        "is_ext_shared_channel": True,
    }  # fmt: skip
    where = origin(event)
    assert (where.teams, where.user_teams, where.user, where.channel, where.shared_channel) == (
        {"T0001"}, {"T0PARTNER"}, "UPARTNER", "C0HANDOFF", True,
    )  # fmt: skip
    click = {
        "type": "block_actions", "team": {"id": "T0001"}, "user": {"id": "UGUEST", "team_id": "T0001"},
        "container": {"channel_id": "C0HANDOFF", "message_ts": "1.1"},
    }  # fmt: skip
    assert origin(click).teams == origin(click).user_teams == {"T0001"}
    assert origin(click).channel == "C0HANDOFF"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_user("UALEX", "Alex Morgan", "Alex")
        fake.add_user("UNOBODY", "Noa Body")
        fake.add_user("ULEAD", "Lee Adams")
        fake.add_user("UGUEST", "Gus Guest", guest="multi")
        fake.add_user("UPARTNER", "Pat Partner", team_id="T0PARTNER")
        fake.add_usergroup("S0AGENTS", "support-agents", ["UALEX", "UGUEST", "UPARTNER"])
        yield fake


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def access_for(slack: FakeSlack, clock: Clock | None = None, **settings: Any) -> SlackAccess:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    config = SlackSettings(bot_token=slack.bot_token, signing_secret="s", channel="C0HANDOFF", **settings)
    return SlackAccess(client, config, clock or Clock())


def reasons(access: SlackAccess, users: list[str], **where: Any) -> dict[str, str | None]:
    async def check() -> dict[str, str | None]:
        found = {}
        for user in users:
            fields = {"teams": {"T0001"}, "user_teams": set(), "channel": "C0HANDOFF", **where}
            refusal = await access.check_agent(Origin(kind="test", user=user, **fields))
            found[user] = refusal.reason if refusal else None
        return found

    return asyncio.run(check())


def test_requests_from_another_workspace_or_channel_are_refused(slack: FakeSlack) -> None:
    access = access_for(slack)

    async def check(body: dict[str, Any]) -> str | None:
        refusal = await access.check_request(origin(body))
        return refusal.reason if refusal else None

    async def all_checks() -> list[str | None]:
        ours = {"team_id": "T0001", "event": {"type": "message", "channel": "C0HANDOFF", "team": "T0001"}}
        return [
            await check(ours),
            await check({**ours, "team_id": "T0EVIL"}),
            await check({**ours, "team": {"id": "T0EVIL"}}),
            await check({**ours, "event": {**ours["event"], "channel": "C0RANDOM"}}),
            await check({"event": {"type": "message", "channel": "C0HANDOFF"}}),  # names no team at all
        ]

    assert asyncio.run(all_checks()) == [None, FOREIGN_TEAM, FOREIGN_TEAM, FOREIGN_CHANNEL, FOREIGN_TEAM]
    assert len(slack.api_calls("auth.test")) == 1  # learned once


def test_a_pinned_team_id_is_used_without_asking_slack(slack: FakeSlack) -> None:
    access = access_for(slack, team_id="T0OTHER")
    where = origin({"team_id": "T0001", "event": {"type": "message", "channel": "C0HANDOFF"}})
    refusal = asyncio.run(access.check_request(where))
    assert refusal is not None and refusal.reason == FOREIGN_TEAM
    assert slack.api_calls("auth.test") == []


def test_guests_and_other_organisations_are_refused_and_the_agent_group_is_checked(slack: FakeSlack) -> None:
    assert reasons(access_for(slack), ["UALEX", "UNOBODY", "UGUEST", "UPARTNER"]) == {
        "UALEX": None, "UNOBODY": None, "UGUEST": GUEST, "UPARTNER": GUEST,
    }  # fmt: skip
    grouped = access_for(slack, agent_group="S0AGENTS", lead_users=frozenset({"ULEAD"}))
    assert reasons(grouped, ["UALEX", "UNOBODY", "ULEAD", "UGUEST", "UPARTNER", "UNKNOWN"]) == {
        "UALEX": None, "UNOBODY": NOT_AN_AGENT, "ULEAD": None, "UGUEST": GUEST, "UPARTNER": GUEST,
        "UNKNOWN": "unknown-user",
    }  # fmt: skip


def test_a_person_of_another_organisation_is_refused_by_the_request_alone(slack: FakeSlack) -> None:
    access = access_for(slack)
    assert reasons(access, ["UALEX"], user_teams={"T0PARTNER"}) == {"UALEX": GUEST}
    assert reasons(access, ["UALEX"], guest_flag=True) == {"UALEX": GUEST}


def test_a_removed_agent_loses_access_once_the_cache_expires(slack: FakeSlack) -> None:
    clock = Clock()
    access = access_for(slack, clock, agent_group="S0AGENTS")
    assert reasons(access, ["UALEX"]) == {"UALEX": None}
    slack.add_usergroup("S0AGENTS", "support-agents", [])
    assert reasons(access, ["UALEX"]) == {"UALEX": None}  # cached
    clock.now += CACHE_SECONDS + 1
    assert reasons(access, ["UALEX"]) == {"UALEX": NOT_AN_AGENT}


def test_a_group_that_does_not_exist_refuses_everyone_and_says_why(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        assert reasons(access_for(slack, agent_group="S0TYPO"), ["UALEX"]) == {"UALEX": NOT_AN_AGENT}
    assert "no_such_subteam" in caplog.text and "SLACK_AGENT_GROUP" in caplog.text


def test_on_a_claimed_handoff_only_the_owner_or_a_lead_may_act(slack: FakeSlack) -> None:
    access = access_for(slack, lead_users=frozenset({"ULEAD"}))
    claimed = _handoff(HandoffStatus.CLAIMED, "UALEX")

    async def check(handoff: HandoffRecord, user: str, action: str) -> Any:
        return await access.check_owner(handoff, user, action)

    refusal = asyncio.run(check(claimed, "UNOBODY", "resolve"))
    assert refusal is not None and refusal.reason == NOT_OWNER and "<@UALEX>" in str(refusal.tell)
    assert asyncio.run(check(claimed, "UALEX", "resolve")) is None
    assert asyncio.run(check(claimed, "ULEAD", "claim")) is None
    assert asyncio.run(check(_handoff(HandoffStatus.WAITING, None), "UNOBODY", "reply")) is None


def test_the_fake_answers_the_new_methods_like_slack(slack: FakeSlack) -> None:
    async def calls() -> list[Any]:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        members = await client.usergroups_users_list(usergroup="S0AGENTS")
        guest = await client.users_info(user="UGUEST")
        partner = await client.users_info(user="UPARTNER")
        sent = await client.chat_postEphemeral(
            channel="C0HANDOFF", user="UALEX", text="only you", thread_ts="1.1"
        )
        return [members["users"], guest["user"], partner["user"], sent["message_ts"]]

    members, guest, partner, ts = asyncio.run(calls())
    assert members == ["UALEX", "UGUEST", "UPARTNER"]
    assert guest["is_restricted"] and not guest["is_ultra_restricted"]
    assert partner["team_id"] == "T0PARTNER" and partner["is_stranger"]
    assert slack.ephemerals("UALEX") == [
        {"channel": "C0HANDOFF", "user": "UALEX", "text": "only you", "blocks": [], "thread_ts": "1.1",
         "message_ts": ts},
    ]  # fmt: skip
    assert slack.messages() == []  # an ephemeral message is not in the channel's history


def _handoff(status: HandoffStatus, owner: str | None) -> HandoffRecord:
    from dataclasses import fields

    values: dict[str, Any] = {f.name: None for f in fields(HandoffRecord)}
    values.update(id=1, status=status, claimed_by=owner, claimed_by_name="Alex" if owner else None)
    return HandoffRecord(**values)
