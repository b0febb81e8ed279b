"""The App Home queue view, pure: records, SLA statuses, the viewer and the time in, Block Kit out."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from bot.handoff.desks.slack.home_view import (
    HOME_CLAIM,
    HOME_OPEN_THREAD,
    MAX_HOME_BLOCKS,
    QueueItem,
    Viewer,
    home_view,
    minutes_text,
    view_hash,
)
from bot.handoff.sla import NO_TARGET, SlaStatus
from bot.handoff.states import HandoffStatus
from bot.handoff.store import HandoffRecord

NOW = datetime(2026, 12, 2, 10, 0)


def handoff(
    id: int, *, status: str = "waiting", team: str | None = "billing", name: str | None = "Maria Lopez",
    minutes_ago: float = 5, reason: str = "asked for a person", **kw: Any,
) -> HandoffRecord:  # fmt: skip
    fields: dict[str, Any] = {
        "conversation_id": f"c{id}", "channel": "socketio", "customer_id": None, "reason": reason,
        "status": HandoffStatus(status), "packet": {"customer": {"name": name} if name else None},
        "relay_after": 0.0, "desk_channel": "C0BILLING", "card_ts": f"1700000000.{id:06d}", "team": team,
        "routing_why": None, "notify_group": None, "claimed_by": None, "claimed_by_name": None,
        "resolved_by_name": None, "followup_message": None,
        "created_at": NOW - timedelta(minutes=minutes_ago), "claimed_at": None, "resolved_at": None,
    }  # fmt: skip
    return HandoffRecord(id=id, **{**fields, **kw})


def sla(level: str, left: float | None, target: str = "first_reply") -> SlaStatus:
    return SlaStatus(target, NOW + timedelta(minutes=left or 0), left, level)  # type: ignore[arg-type]


def texts(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def rows(view: dict[str, Any]) -> list[str]:
    """The first line of each handoff's section, in order."""
    return [
        b["text"]["text"].split("\n")[0]
        for b in view["blocks"]
        if b["type"] == "section" and "·" in b["text"]["text"]
    ]


def test_each_open_handoff_shows_who_where_why_state_sla_and_buttons() -> None:
    waiting = handoff(1, minutes_ago=12)
    claimed = handoff(
        2, status="claimed", name="James", claimed_by="USAM", claimed_by_name="Sam", minutes_ago=65
    )
    view = home_view(
        [QueueItem(waiting, sla("soon", 3.6)), QueueItem(claimed, sla("ok", 40, "resolution"))],
        Viewer("UALEX", scope="Your teams: billing"), NOW,
    )  # fmt: skip
    assert view["type"] == "home"
    content = texts(view)
    for expected in (
        "*Maria Lopez* · Website chat · team *billing*", "asked for a person", "*Waiting* 12 min",
        ":large_yellow_circle: First reply due in 3 min", "Claimed by *Sam* · open 1 h 05 min",
        ":large_green_circle: Resolution due in 40 min",
        "Your teams: billing · 2 open · 1 waiting · 1 claimed",
    ):  # fmt: skip
        assert expected in content, expected
    actions = [b for b in view["blocks"] if b["type"] == "actions"]
    first, second = ([e["action_id"] for e in a["elements"]] for a in actions)
    assert first == [HOME_CLAIM, HOME_OPEN_THREAD]  # waiting: Claim
    assert second == [HOME_OPEN_THREAD]  # claimed by someone else, not a lead: no Claim
    link = actions[0]["elements"][1]
    assert link["url"] == "https://slack.com/archives/C0BILLING/p1700000000000001" and link["value"] == "1"
    assert actions[0]["elements"][0]["value"] == "1"


def test_a_lead_can_take_over_a_claimed_handoff_but_not_their_own() -> None:
    theirs = handoff(1, status="claimed", claimed_by="USAM", claimed_by_name="Sam")
    mine = handoff(2, status="claimed", claimed_by="ULEAD", claimed_by_name="Lee")
    view = home_view([QueueItem(theirs), QueueItem(mine)], Viewer("ULEAD", lead=True), NOW)
    actions = [b for b in view["blocks"] if b["type"] == "actions"]
    take_over = actions[0]["elements"][0]
    assert take_over["action_id"] == HOME_CLAIM and take_over["text"]["text"] == "Take over"
    assert "Sam has this handoff" in take_over["confirm"]["text"]["text"]
    assert [e["action_id"] for e in actions[1]["elements"]] == [HOME_OPEN_THREAD]


def test_sorted_by_sla_urgency_then_by_wait() -> None:
    items = [
        QueueItem(handoff(1, name="No target, waited long", minutes_ago=90), NO_TARGET),
        QueueItem(handoff(2, name="Ok", minutes_ago=1), sla("ok", 30)),
        QueueItem(handoff(3, name="Missed", minutes_ago=2), sla("missed", -4.2)),
        QueueItem(handoff(4, name="Soon", minutes_ago=3), sla("soon", 2)),
        QueueItem(handoff(5, name="No target, waited less", minutes_ago=20), NO_TARGET),
        QueueItem(handoff(6, name="Ok, less left", minutes_ago=1), sla("ok", 10)),
    ]
    view = home_view(items, Viewer("UALEX"), NOW)
    names = [row.split("*")[1] for row in rows(view)]
    assert names == [
        "Missed",
        "Soon",
        "Ok, less left",
        "Ok",
        "No target, waited long",
        "No target, waited less",
    ]
    content = texts(view)
    assert ":red_circle: First reply missed by 5 min" in content and ":white_circle: No SLA target" in content


def test_only_open_handoffs_of_the_viewers_teams() -> None:
    items = [
        QueueItem(handoff(1, team="billing", name="Billing")),
        QueueItem(handoff(2, team="vip", name="Vip")),
        QueueItem(handoff(3, team=None, name="No team")),
        QueueItem(handoff(4, status="resolved", name="Resolved")),
        QueueItem(handoff(5, status="timed_out", name="Timed out")),
    ]
    agent = home_view(items, Viewer("UALEX", hidden_teams=frozenset({"vip"})), NOW)
    assert [r.split("*")[1] for r in rows(agent)] == ["Billing", "No team"]
    everyone = home_view(items, Viewer("ULEAD", lead=True), NOW)
    assert [r.split("*")[1] for r in rows(everyone)] == ["Billing", "Vip", "No team"]


def test_an_empty_queue_says_so_and_a_non_agent_sees_no_customer() -> None:
    empty = home_view([QueueItem(handoff(1, status="resolved"))], Viewer("UALEX"), NOW)
    assert "No open handoffs" in texts(empty) and HOME_CLAIM not in texts(empty)
    outsider = home_view([QueueItem(handoff(1))], Viewer("UNOBODY", agent=False), NOW)
    assert "support agents only" in texts(outsider)
    for leaked in ("Maria", "asked for a person", "billing", HOME_CLAIM, "archives"):
        assert leaked not in texts(outsider)


def test_customer_text_cannot_mention_link_or_style() -> None:
    hostile = handoff(
        1,
        name="<!channel> *Boss* <@U1>",
        reason="<https://evil.example|click> _now_ ~x~ `y` 4111 1111 1111 1111",
    )
    content = texts(home_view([QueueItem(hostile)], Viewer("UALEX"), NOW))
    for raw in ("<!channel>", "<@U1>", "<https://evil", "*Boss*", "_now_", "~x~", "`y`", "4111 1111"):
        assert raw not in content, raw
    assert "&lt;!channel&gt;" in content and "&lt;@U1&gt;" in content and "∗Boss∗" in content


def test_a_long_queue_fits_in_100_blocks_and_says_how_many_more() -> None:
    items = [QueueItem(handoff(i, minutes_ago=i)) for i in range(1, 61)]
    view = home_view(items, Viewer("UALEX"), NOW)
    assert len(view["blocks"]) <= MAX_HOME_BLOCKS
    shown = len(rows(view))
    assert f"…and {60 - shown} more open handoffs" in texts(view)
    assert "60 open" in texts(view)


def test_the_view_changes_at_most_once_a_minute() -> None:
    items = [QueueItem(handoff(1, minutes_ago=5 + 10 / 60), sla("ok", 19.8))]
    first = home_view(items, Viewer("UALEX"), NOW)
    seconds_later = [QueueItem(handoff(1, minutes_ago=5 + 40 / 60), sla("ok", 19.3))]
    assert view_hash(home_view(seconds_later, Viewer("UALEX"), NOW)) == view_hash(first)
    a_minute_later = [QueueItem(handoff(1, minutes_ago=6 + 10 / 60), sla("ok", 18.8))]
    assert view_hash(home_view(a_minute_later, Viewer("UALEX"), NOW)) != view_hash(first)
    assert (minutes_text(59.9), minutes_text(61), minutes_text(60 * 26 + 3)) == (
        "59 min",
        "1 h 01 min",
        "1 d 2 h",
    )
