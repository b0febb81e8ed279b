"""SLA reminders and "still looking" updates (bot/handoff/sla_job.py) on real SQLite and PostgreSQL.

The action server opens the handoff (routed to billing: first reply in 10 minutes, resolution
in 60); the relay posts its card in the team's channel of the fake Slack over real HTTP; the
job runs with a chosen ``now`` so minutes pass instantly. No Rasa: only the desk side of the
outbox is delivered, the customer side is read from the outbox table.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update

from actions.handoff import ActionHandoff
from bot.business import DAY_NAMES, BusinessHours, HandoffSettings, load_business_settings
from bot.customers import CustomerStore
from bot.handoff.desks.slack import SlackDesk
from bot.handoff.models import Handoff
from bot.handoff.rasa_api import RasaAPI
from bot.handoff.relay import Relay
from bot.handoff.routing import RoutingSettings, load_routing_settings
from bot.handoff.sla_job import CustomerUpdate, Reminder, check_interval, check_once, sla_loop
from bot.handoff.store import SAY_TO_CUSTOMER, HandoffRecord, HandoffStore
from bot.outbox import OutboxItem
from tests.fakes.slack import FakeSlack
from tests.support import ROOT
from tests.support.desk_rig import drain_desk as drain
from tests.support.desk_rig import use_routing
from tests.support.trackers import user
from tests.test_actions import run

HANDOFF_CHANNEL = "C0HANDOFF"
NOWHERE = "http://127.0.0.1:9"  # no Rasa: customer messages stay in the outbox, where the tests read them
ROUTING = {
    "teams": {
        "billing": {"channel": "C0BILLING", "notify_group": "S0BILLING", "first_reply_minutes": 10,
                    "resolution_minutes": 60},
        "vip": {"channel": "C0BILLING", "notify_group": "S0VIPDESK", "first_reply_minutes": 30,
                "warn_before_minutes": 25},
        "general": {},
    },
    "rules": [
        {"name": "billing", "team": "billing", "when": {"topic": ["billing_dispute"]}},
        {"name": "default", "team": "general"},
    ],
}  # fmt: skip
LONDON = BusinessHours("Europe/London", frozenset(DAY_NAMES[:6]), clock(8), clock(20))  # Mon-Sat 08-20
MENTION = re.compile(r"<!(?:subteam\^[^>|]+|here|channel|everyone)[^>]*>")


@pytest.fixture(autouse=True)
def use_store(store: CustomerStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CustomerStore:
    return use_routing(store, monkeypatch, tmp_path, ROUTING)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_channel(HANDOFF_CHANNEL, "support")
        fake.add_channel("C0BILLING", "billing")
        yield fake


@pytest.fixture
def relay(use_store: CustomerStore, slack: FakeSlack) -> Relay:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    return Relay(HandoffStore(use_store), SlackDesk(client, HANDOFF_CHANNEL), RasaAPI(NOWHERE), settings())


def settings(**changes: Any) -> HandoffSettings:
    return replace(load_business_settings().handoff, **changes)


def routing() -> RoutingSettings:
    return load_routing_settings()


def open_billing(relay: Relay, sender: str = "maria", text: str = "I was charged twice") -> HandoffRecord:
    """A handoff routed to billing, its card posted, opened at a round minute (so minutes are exact)."""
    run(ActionHandoff(), sender, [user(text, "billing_dispute")])
    asyncio.run(drain(relay))
    handoff = relay.store.latest_for(sender)
    assert handoff.team == "billing" and handoff.card_ts
    return set_times(relay, handoff.id, created_at=handoff.created_at.replace(second=0, microsecond=0))


def set_times(relay: Relay, handoff_id: int, **values: datetime | None) -> HandoffRecord:
    """What relay_agent_message / claim would have recorded, at the moments a test chooses."""
    with relay.store.db.session() as session:
        session.execute(update(Handoff).where(Handoff.id == handoff_id).values(**values))
    return relay.store.get(handoff_id)


def thread(slack: FakeSlack, handoff: HandoffRecord) -> list[str]:
    return [reply.get("text") or "" for reply in slack.replies(handoff.card_ts)]


def sla_notes(slack: FakeSlack, handoff: HandoffRecord) -> list[str]:
    return [text for text in thread(slack, handoff) if "*SLA:*" in text]


def customer_items(relay: Relay, handoff_id: int) -> list[dict[str, Any]]:
    with relay.store.db.session() as session:
        items = session.scalars(
            select(OutboxItem).where(OutboxItem.kind == SAY_TO_CUSTOMER).order_by(OutboxItem.id)
        ).all()
        return [item.payload for item in items if item.payload.get("handoff_id") == handoff_id]


def check(relay: Relay, now: datetime, **changes: Any) -> tuple[list[Reminder], list[CustomerUpdate]]:
    found = check_once(relay.store, routing(), settings(**changes), now)
    asyncio.run(drain(relay))
    return found


# --------------------------------------------------------------------------- SLA reminders


def test_each_target_gets_one_reminder_in_the_thread_with_the_group_mentioned_once(
    relay: Relay, slack: FakeSlack
) -> None:
    handoff = open_billing(relay)
    start = handoff.created_at
    assert check(relay, start + timedelta(minutes=7)) == ([], [])  # 3 of 10 minutes left: not yet
    reminders, _ = check(relay, start + timedelta(minutes=8))  # the last fifth: soon
    assert reminders == [Reminder(handoff.id, "first_reply", 2.0, "S0BILLING")]
    [note] = sla_notes(slack, handoff)
    expected = "<!subteam^S0BILLING> *SLA:* First reply due in 2 min (the team's target)"
    assert note == f":hourglass_flowing_sand: {expected}"
    assert relay.store.get(handoff.id).first_reply_warned_at == start + timedelta(minutes=8)

    # Running again, even once it is missed, posts nothing new.
    for minutes in (8.5, 9, 12, 30):
        assert check(relay, start + timedelta(minutes=minutes)) == ([], [])
    assert len(sla_notes(slack, handoff)) == 1

    # The agent claims it and replies at minute 13: from now on the resolution target (60) applies.
    relay.store.claim(handoff.id, "UALEX", "Alex")
    minute = timedelta(minutes=1)
    set_times(relay, handoff.id, claimed_at=start + 12 * minute, first_agent_reply_at=start + 13 * minute,
              last_agent_reply_at=start + 40 * minute)  # fmt: skip
    assert check(relay, start + timedelta(minutes=47))[0] == []
    reminders, _ = check(relay, start + timedelta(minutes=49))
    assert reminders == [Reminder(handoff.id, "resolution", 11.0, "S0BILLING")]
    for later in (timedelta(minutes=49.5), timedelta(hours=3)):
        assert check(relay, start + later)[0] == []
    notes = sla_notes(slack, handoff)
    assert notes[1].endswith("*SLA:* Resolution due in 11 min (the team's target)")
    assert [note.count("<!subteam^S0BILLING>") for note in notes] == [1, 1]
    # Resolved: no target any more, so nothing else ever comes.
    relay.store.resolve(handoff.id, "Alex")
    assert check(relay, start + timedelta(hours=5)) == ([], [])
    assert len(sla_notes(slack, handoff)) == 2


def test_a_target_missed_while_nobody_checked_is_reported_as_missed(relay: Relay, slack: FakeSlack) -> None:
    handoff = open_billing(relay)
    reminders, _ = check(relay, handoff.created_at + timedelta(minutes=14))  # e.g. the worker was down
    assert reminders == [Reminder(handoff.id, "first_reply", -4.0, "S0BILLING")]
    assert sla_notes(slack, handoff)[0].endswith("*SLA:* First reply missed by 4 min (the team's target)")


def test_a_transferred_handoff_is_reminded_again_for_its_new_team(relay: Relay, slack: FakeSlack) -> None:
    handoff = open_billing(relay)
    assert check(relay, handoff.created_at + timedelta(minutes=9))[0][0].group == "S0BILLING"
    # What a transfer (bot/handoff/moves.py) records: the new team, back in its queue, marks cleared.
    set_times(relay, handoff.id, team="vip", queued_at=handoff.created_at + timedelta(minutes=10),
              first_reply_warned_at=None)  # fmt: skip
    reminders, _ = check(relay, handoff.created_at + timedelta(minutes=11))  # 19 of vip's 30 left, warn 25
    assert reminders == [Reminder(handoff.id, "first_reply", 19.0, "S0VIPDESK")]
    assert check(relay, handoff.created_at + timedelta(minutes=12)) == ([], [])
    assert [note.count("<!subteam^") for note in sla_notes(slack, handoff)] == [1, 1]


def test_time_outside_business_hours_does_not_count(relay: Relay, slack: FakeSlack) -> None:
    handoff = open_billing(relay)
    saturday = datetime(2026, 12, 5, 19, 55)  # London is on GMT in December: UTC times are local times
    set_times(relay, handoff.id, created_at=saturday)
    closed = {"business_hours": LONDON}
    assert check(relay, saturday + timedelta(minutes=4), **closed) == ([], [])  # 6 minutes left
    assert check(relay, datetime(2026, 12, 6, 12), **closed) == ([], [])  # Sunday: closed, nothing counts
    assert check(relay, datetime(2026, 12, 7, 8, 2), **closed) == ([], [])  # Monday: 3 minutes left
    reminders, _ = check(relay, datetime(2026, 12, 7, 8, 3), **closed)
    assert reminders == [Reminder(handoff.id, "first_reply", 2.0, "S0BILLING")]
    assert len(sla_notes(slack, handoff)) == 1


def test_nothing_is_posted_while_closed_even_when_a_target_is_missed(relay: Relay, slack: FakeSlack) -> None:
    handoff = open_billing(relay)
    set_times(relay, handoff.id, created_at=datetime(2026, 12, 5, 19, 50))  # due Saturday 20:00
    assert check(relay, datetime(2026, 12, 6, 12), business_hours=LONDON) == ([], [])  # nobody is paged
    reminders, _ = check(relay, datetime(2026, 12, 7, 8, 1), business_hours=LONDON)
    assert reminders == [Reminder(handoff.id, "first_reply", -1.0, "S0BILLING")]  # 1 business minute late


def test_customer_text_never_becomes_a_mention(relay: Relay, slack: FakeSlack) -> None:
    attack = "<!subteam^S0EVIL> <!here> @here <!channel> <@U0BOSS> I was charged twice"
    handoff = open_billing(relay, text=attack)
    # Even a row whose notify_group was tampered with: the group comes from business.yml only.
    set_times(relay, handoff.id, notify_group="S0EVIL")
    relay.store.record_followup(handoff.conversation_id, "<!subteam^S0EVIL> please")
    check(relay, handoff.created_at + timedelta(minutes=9))
    posted = json.dumps(slack.messages("C0BILLING") + slack.replies(handoff.card_ts), ensure_ascii=False)
    assert "S0EVIL" in posted  # the customer's words are shown ...
    assert set(MENTION.findall(posted)) == {"<!subteam^S0BILLING>"}  # ... but only our group is a mention
    assert "<@U0BOSS>" not in posted
    assert len(sla_notes(slack, handoff)) == 1


# --------------------------------------------------------------------------- keeping the customer informed


def still_looking_text(agent_name: str) -> str:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
    # the English default is the last variation (language variants come first)
    return domain["utter_agent_still_looking"][-1]["text"].format(agent_name=agent_name)


def customer_writes(relay: Relay, handoff: HandoffRecord, text: str, *, at: datetime) -> None:
    """A customer message relayed to the thread (as the relay does from Rasa's events), queued ``at``."""
    timestamp = time.time()
    assert relay.store.relay_customer_message(
        handoff.conversation_id, text, timestamp, channel=handoff.channel
    )
    with relay.store.db.session() as session:
        key = f"customer-message:{handoff.conversation_id}:{timestamp!r}"
        session.execute(update(OutboxItem).where(OutboxItem.dedupe_key == key).values(created_at=at))


def test_a_quiet_claimed_handoff_tells_the_customer_once_per_interval(relay: Relay, slack: FakeSlack) -> None:
    handoff = open_billing(relay)
    relay.store.claim(handoff.id, "UALEX", "Alex")
    claimed = handoff.created_at + timedelta(minutes=1)
    set_times(
        relay, handoff.id, claimed_at=claimed, first_agent_reply_at=claimed
    )  # no SLA reminder in the way
    assert check(relay, claimed + timedelta(minutes=9))[1] == []
    _, updates = check(relay, claimed + timedelta(minutes=10))
    assert updates == [CustomerUpdate(handoff.id, "Alex", 10.0)]
    update_item = customer_items(relay, handoff.id)[-1]
    assert (
        update_item["text"]
        == still_looking_text("Alex")
        == ("Alex is still looking into this — thanks for bearing with us.")
    )
    assert (update_item["notice"], update_item["agent_name"], update_item["agent_id"]) == (
        True,
        "Alex",
        "UALEX",
    )
    assert relay.store.get(handoff.id).customer_updated_at == claimed + timedelta(minutes=10)
    assert thread(slack, handoff)[-1] == (
        ":speech_balloon: No reply for 10 min — the customer was told Alex is still looking into it"
    )

    assert check(relay, claimed + timedelta(minutes=15))[1] == []  # at most once per interval
    assert len(check(relay, claimed + timedelta(minutes=20))[1]) == 1  # still quiet: told again
    # Alex replies with a question: the customer owes the answer, so nothing is said however long it takes.
    set_times(relay, handoff.id, last_agent_reply_at=claimed + timedelta(minutes=22))
    assert check(relay, claimed + timedelta(minutes=31))[1] == []
    assert check(relay, claimed + timedelta(minutes=45))[1] == []
    # The customer answers at minute 25; ten quiet minutes after Alex's reply, they are told.
    customer_writes(relay, handoff, "here is the photo", at=claimed + timedelta(minutes=25))
    assert check(relay, claimed + timedelta(minutes=31))[1] == []
    assert len(check(relay, claimed + timedelta(minutes=32))[1]) == 1
    texts = [item["text"] for item in customer_items(relay, handoff.id)]
    assert texts.count(still_looking_text("Alex")) == 3
    assert sum("still looking into it" in text for text in thread(slack, handoff)) == 3


def test_no_update_while_waiting_outside_hours_or_when_off(relay: Relay, slack: FakeSlack) -> None:
    waiting = open_billing(relay)
    set_times(relay, waiting.id, first_reply_warned_at=waiting.created_at)  # only the update matters here
    assert check(relay, waiting.created_at + timedelta(hours=2))[1] == []  # no agent yet: nobody to name

    relay.store.claim(waiting.id, "UALEX", "Alex")
    sunday = datetime(2026, 12, 6, 12)
    set_times(relay, waiting.id, claimed_at=sunday - timedelta(hours=3), first_agent_reply_at=sunday,
              resolution_warned_at=sunday)  # fmt: skip
    assert check(relay, sunday, business_hours=LONDON)[1] == []  # Alex is off shift: not "still looking"
    assert check(relay, sunday, still_looking_after_minutes=0)[1] == []  # switched off
    assert customer_items(relay, waiting.id)[-1]["text"] != still_looking_text("Alex")  # only "Alex joined"
    assert len(check(relay, sunday)[1]) == 1  # around the clock (the tests' hours) and on: told


def test_the_loop_runs_the_checks_until_stopped(relay: Relay, slack: FakeSlack) -> None:
    handoff = open_billing(relay)
    set_times(relay, handoff.id, created_at=handoff.created_at - timedelta(minutes=9))

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(sla_loop(relay.store, settings(), stop, interval=0.05))
        for _ in range(100):
            if relay.store.get(handoff.id).first_reply_warned_at is not None:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=5)
        await drain(relay)

    asyncio.run(scenario())
    assert len(sla_notes(slack, handoff)) == 1


def test_the_check_interval_is_a_quarter_of_the_shortest_warning() -> None:
    from bot.handoff.routing import parse_routing_settings

    def teams(**targets: float) -> RoutingSettings:
        return parse_routing_settings({"teams": {"t": dict(targets)}, "rules": [{"name": "d", "team": "t"}]})

    quiet = replace(settings(), still_looking_after_minutes=0)
    assert check_interval(RoutingSettings(), quiet) == 30.0  # nothing to watch closely: every 30 s
    assert check_interval(teams(first_reply_minutes=10), quiet) == 30.0  # 2 min warning: 30 s
    assert check_interval(teams(first_reply_minutes=1), quiet) == 3.0  # a fifth of 1 min, quartered
    assert check_interval(teams(first_reply_minutes=10, warn_before_minutes=0.2), quiet) == 3.0
    assert check_interval(teams(first_reply_minutes=0.01), quiet) == 0.5  # never busier than that
    assert check_interval(RoutingSettings(), replace(quiet, still_looking_after_minutes=1)) == 15.0
