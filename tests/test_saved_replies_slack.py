"""Saved replies from Slack, over HTTP and Socket Mode: shortcut, slash command, private preview, Send.

The real Bolt app (bot/handoff/slack_app.py ``build_slack_app``) runs in this process, served over
HTTP or connected to the fake's Socket Mode WebSocket, with the real Relay on a real database
(SQLite and PostgreSQL) and the fake Slack workspace (tests/fakes/slack). No Rasa: what the
customer would get is the queued ``customer.say`` outbox item (bot/handoff/store.py).

People: ``UALEX`` and ``USAM`` are agents (group ``S0AGENTS``), ``ULEAD`` a lead, ``UNOBODY`` a
member of the workspace who is not an agent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update

from bot.business import load_business_settings
from bot.context import build_context_packet
from bot.customers import CustomerStore
from bot.customers.models import Customer
from bot.handoff.desks.base import Notice
from bot.handoff.desks.slack import SlackDesk
from bot.handoff.desks.slack.saved_reply_listeners import STALE
from bot.handoff.desks.slack.saved_reply_views import (
    CANCEL,
    COMMAND,
    ORDER_BLOCK,
    REPLY_BLOCK,
    SEND,
    SHORTCUT,
)
from bot.handoff.rasa_api import RasaAPI
from bot.handoff.relay import Relay
from bot.handoff.settings import SlackSettings
from bot.handoff.slack_app import build_slack_app, slack_client
from bot.handoff.store import SAY_TO_CUSTOMER, HandoffRecord, HandoffStore
from bot.outbox import OutboxItem
from tests.fakes.slack import FakeSlack
from tests.support.bolt_app import serving
from tests.support.desk_rig import drain_desk as drain

CHANNEL = "C0HANDOFF"
AGENTS = "S0AGENTS"
NOWHERE = "http://127.0.0.1:9"  # no Rasa: the customer side stays queued


@dataclass
class Desk:
    slack: FakeSlack
    store: CustomerStore
    url: str  # the app's /slack/events (ignored in Socket Mode)

    @property
    def handoffs(self) -> HandoffStore:
        return HandoffStore(self.store)


def relay_for(store: CustomerStore, slack: FakeSlack) -> Relay:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    return Relay(
        HandoffStore(store), SlackDesk(client, CHANNEL), RasaAPI(NOWHERE), load_business_settings().handoff
    )


@contextmanager
def running_app(slack: FakeSlack, store: CustomerStore) -> Iterator[str]:
    """The Bolt app on its own event loop thread: an HTTP endpoint, or a Socket Mode connection."""
    mode = "socket" if slack.socket_mode else "http"
    settings = SlackSettings(
        slack.bot_token, slack.signing_secret, CHANNEL, mode, slack.app_token, slack.api_url,
        agent_group=AGENTS, lead_users=frozenset({"ULEAD"}),
    )  # fmt: skip
    with serving(build_slack_app(relay_for(store, slack), settings, slack_client(settings)), slack) as url:
        yield url


@pytest.fixture(params=["http", "socket"])
def desk(request: pytest.FixtureRequest, store: CustomerStore) -> Iterator[Desk]:
    with FakeSlack(socket_mode=request.param == "socket") as slack:
        slack.add_channel(CHANNEL, "support-handoffs")
        for user, name in (("UALEX", "Alex Morgan"), ("USAM", "Sam Lee"), ("ULEAD", "Lee Ader"),
                           ("UNOBODY", "No Body")):  # fmt: skip
            slack.add_user(user, name, name.split()[0])
        slack.add_usergroup(AGENTS, "agents", ["UALEX", "USAM"])
        with running_app(slack, store) as url:
            yield Desk(slack, store, url)


def settle(desk: Desk) -> None:
    asyncio.run(drain(relay_for(desk.store, desk.slack)))


def open_handoff(desk: Desk, conversation: str, slots: dict[str, Any] | None = None) -> HandoffRecord:
    """A handoff with the packet the action server would build, and its card posted."""
    packet = build_context_packet(
        conversation_id=conversation, channel="rest", events=[], slots=slots or {},
        reason="asked for a person", store=desk.store,
    ).to_dict()  # fmt: skip
    customer = desk.store.find_by_identity("rest", conversation)
    record, _ = desk.handoffs.open_handoff(
        conversation_id=conversation, channel="rest", customer_id=customer.id if customer else None,
        reason="asked for a person", packet=packet, relay_after=0.0,
    )  # fmt: skip
    settle(desk)
    found = desk.handoffs.get(record.id)
    assert found is not None and found.card_ts
    return found


def said(store: CustomerStore) -> list[dict[str, Any]]:
    """What is queued for customers, without the "Alex has joined" notices."""
    with store.session() as session:
        rows = session.scalars(
            select(OutboxItem).where(OutboxItem.kind == SAY_TO_CUSTOMER).order_by(OutboxItem.id)
        )
        return [
            {**row.payload, "dedupe_key": row.dedupe_key} for row in rows if not row.payload.get("notice")
        ]


def pick(
    desk: Desk, user: str, handoff: HandoffRecord, reply: str, order: str | None = None
) -> dict[str, Any]:
    """``user`` runs the shortcut on the card and picks ``reply``; returns the preview they got."""
    status, _ = desk.slack.run_shortcut(desk.url, SHORTCUT, user, CHANNEL, str(handoff.card_ts))
    assert status == 200
    view = desk.slack.views()[-1]
    assert view["view"]["callback_id"] == "saved_reply_pick", desk.slack.describe()
    choices = {REPLY_BLOCK: reply, **({ORDER_BLOCK: order} if order else {})}
    status, _ = desk.slack.submit_view(desk.url, view["id"], user, choices)
    assert status == 200
    return desk.slack.ephemerals(user)[-1]


def blocks_text(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks"), ensure_ascii=False)


# --------------------------------------------------------------------------- the flow


def test_shortcut_previews_privately_and_only_send_delivers_once(desk: Desk) -> None:
    handoff = open_handoff(desk, "maria", {"order_number": "HL-104233"})
    preview = pick(desk, "UALEX", handoff, "tracking")

    # Only Alex sees it, in the handoff's thread; nothing went to the customer yet.
    assert (preview["user"], preview["channel"], preview["thread_ts"]) == ("UALEX", CHANNEL, handoff.card_ts)
    assert [e["user"] for e in desk.slack.ephemerals()] == ["UALEX"]
    text = blocks_text(preview)
    assert "Hi Maria, your order HL-104233 is on its way with UPS" in text
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456784" in text
    assert said(desk.store) == []
    assert desk.handoffs.get(handoff.id).status.value == "waiting"

    # A double click on Send: sent once, through the typed replies' path (claims, agent metadata).
    for _ in range(2):
        status, _ = desk.slack.click_ephemeral(desk.url, "UALEX", SEND, index=0)
        assert status == 200
    sent = said(desk.store)
    assert len(sent) == 1, sent
    assert sent[0]["text"].startswith(
        "Hi Maria, your order HL-104233 is on its way with UPS. You can follow it here: "
    )
    assert (sent[0]["agent_id"], sent[0]["agent_name"], sent[0]["handoff_id"]) == (
        "UALEX",
        "Alex",
        handoff.id,
    )
    assert sent[0]["dedupe_key"].startswith(f"agent-message:saved:{handoff.id}:")
    claimed = desk.handoffs.get(handoff.id)
    assert (claimed.status.value, claimed.claimed_by) == ("claimed", "UALEX")

    # The thread shows what the customer was sent, once.
    settle(desk)
    notices = [m["text"] for m in desk.slack.replies(str(handoff.card_ts)) if "saved reply" in m["text"]]
    assert len(notices) == 1 and "Where is my order" in notices[0] and "1Z999AA10123456784" in notices[0]
    assert Notice.SAVED_REPLY.value == "saved_reply"


def test_cancel_sends_nothing(desk: Desk) -> None:
    handoff = open_handoff(desk, "maria", {"order_number": "HL-104233"})
    pick(desk, "UALEX", handoff, "closing")
    status, _ = desk.slack.click_ephemeral(desk.url, "UALEX", CANCEL)
    assert status == 200
    assert said(desk.store) == []
    assert "nothing was sent" in desk.slack.ephemerals("UALEX")[-1]["text"]
    assert desk.handoffs.get(handoff.id).claimed_by is None


def test_the_agent_picks_the_order_when_the_conversation_names_none(desk: Desk) -> None:
    handoff = open_handoff(desk, "maria")  # two orders, none mentioned
    preview = pick(desk, "UALEX", handoff, "tracking", order="HL-100982")
    view_blocks = json.dumps(desk.slack.views()[-1]["view"]["blocks"])
    assert "HL-104233" in view_blocks and "HL-100982" in view_blocks
    assert "with DHL" in blocks_text(preview) and "JD014600004711" in blocks_text(preview)


def test_slash_command_lists_matches_or_previews_in_the_thread(desk: Desk) -> None:
    handoff = open_handoff(desk, "priya")  # one order, with an open return
    status, _ = desk.slack.slash_command(desk.url, COMMAND, "refund", "USAM", CHANNEL)
    assert status == 200
    listing = desk.slack.ephemerals("USAM")[-1]
    assert (
        listing["thread_ts"] is None
        and "refund-timing" in listing["text"]
        and "More actions" in listing["text"]
    )

    status, _ = desk.slack.slash_command(desk.url, COMMAND, f"{handoff.id} return label", "USAM", CHANNEL)
    assert status == 200
    preview = desk.slack.ephemerals("USAM")[-1]
    assert preview["thread_ts"] == handoff.card_ts
    assert "https://hearthlink.example/returns/R-" in blocks_text(preview)
    desk.slack.click_ephemeral(desk.url, "USAM", SEND)
    [sent] = said(desk.store)
    assert "Here's the prepaid label for return R-" in sent["text"] and "Priya" in sent["text"]


# --------------------------------------------------------------------------- refusals and attacks


def test_a_missing_value_is_named_and_nothing_can_be_sent(desk: Desk) -> None:
    handoff = open_handoff(desk, "stranger")  # no account: no name, no orders
    preview = pick(desk, "UALEX", handoff, "tracking")
    text = blocks_text(preview)
    assert "can't be sent" in text and "first name" in text and "order number" in text
    assert SEND not in text and "{first_name}" in text  # it names the placeholder, it does not send it
    assert said(desk.store) == []


def test_outsiders_and_non_owners_cannot_send(desk: Desk) -> None:
    handoff = open_handoff(desk, "maria", {"order_number": "HL-104233"})
    # Not an agent: refused at the shortcut and at the command; no modal, no preview.
    views = len(desk.slack.views())
    desk.slack.run_shortcut(desk.url, SHORTCUT, "UNOBODY", CHANNEL, str(handoff.card_ts))
    desk.slack.slash_command(desk.url, COMMAND, f"{handoff.id} tracking", "UNOBODY", CHANNEL)
    assert len(desk.slack.views()) == views
    assert all("support agents" in e["text"] for e in desk.slack.ephemerals("UNOBODY"))

    # Alex previews; Sam replays Alex's Send button (the token is Alex's): refused.
    pick(desk, "UALEX", handoff, "tracking")
    token = desk.slack.ephemerals("UALEX")[-1]["blocks"][2]["elements"][0]["value"]
    desk.slack.click_ephemeral(desk.url, "UALEX", CANCEL)  # (Sam needs a message to click from)
    pick(desk, "USAM", handoff, "closing")
    desk.slack.click_ephemeral(desk.url, "USAM", SEND, value=token)
    assert said(desk.store) == []
    assert "no longer valid" in desk.slack.ephemerals("USAM")[-1]["text"]

    # Alex claims by sending; now Sam, not the owner, is refused at every step.
    desk.slack.click_ephemeral(desk.url, "UALEX", SEND, value=token)
    assert len(said(desk.store)) == 1
    desk.slack.click_ephemeral(desk.url, "USAM", SEND, index=-1)  # Sam's own, issued before Alex claimed
    desk.slack.run_shortcut(desk.url, SHORTCUT, "USAM", CHANNEL, str(handoff.card_ts))
    assert len(said(desk.store)) == 1
    assert "has this handoff" in desk.slack.ephemerals("USAM")[-1]["text"]

    # A lead may.
    pick(desk, "ULEAD", handoff, "closing")
    desk.slack.click_ephemeral(desk.url, "ULEAD", SEND)
    assert [s["agent_id"] for s in said(desk.store)] == ["UALEX", "ULEAD"]


def test_a_forged_or_tampered_send_button_is_refused(desk: Desk) -> None:
    first = open_handoff(desk, "maria", {"order_number": "HL-104233"})
    other = open_handoff(desk, "james")
    pick(desk, "UALEX", first, "tracking")
    token = desk.slack.ephemerals("UALEX")[-1]["blocks"][2]["elements"][0]["value"]
    parts = token.split("|")
    forged = [
        "|".join([parts[0], str(other.id), *parts[2:]]),  # another handoff
        "|".join([*parts[:2], "closing", *parts[3:]]),  # another reply
        "|".join([*parts[:3], "HL-118020", *parts[4:]]),  # another customer's order
        "|".join([*parts[:6], "0" * 32]),  # a made-up signature
        str(first.id),  # a card button's value
    ]
    for value in forged:
        status, _ = desk.slack.click_ephemeral(desk.url, "UALEX", SEND, value=value, index=0)
        assert status == 200
    assert said(desk.store) == []
    assert all(h.claimed_by is None for h in (desk.handoffs.get(first.id), desk.handoffs.get(other.id)))
    # Each was answered "no longer valid", and only Alex saw that.
    answers = [e["text"] for e in desk.slack.ephemerals("UALEX")][-len(forged) :]
    assert answers == [STALE] * len(forged)


def test_customer_values_are_escaped_in_the_preview_and_secrets_redacted(desk: Desk) -> None:
    with desk.store.session() as session:
        session.execute(
            update(Customer).where(Customer.email == "maria.lopez@example.com")
            .values(name="<!channel>*x* Lopez", plan="Fiber password: hunter2secret")
        )  # fmt: skip
    handoff = open_handoff(desk, "maria", {"order_number": "HL-104233"})
    preview = pick(desk, "UALEX", handoff, "fiber-outage")
    text = blocks_text(preview)
    assert "<!channel>" not in text and "&lt;!channel&gt;*x*" in text
    assert "hunter2secret" not in text and "[redacted]" in text
    desk.slack.click_ephemeral(desk.url, "UALEX", SEND)
    [sent] = said(desk.store)
    assert sent["text"].startswith("Hi <!channel>*x*,") and "hunter2secret" not in sent["text"]
    settle(desk)
    thread = json.dumps(desk.slack.replies(str(handoff.card_ts)))
    assert "<!channel>" not in thread and "hunter2secret" not in thread


def test_the_modal_is_checked_again_when_submitted(desk: Desk) -> None:
    handoff = open_handoff(desk, "maria", {"order_number": "HL-104233"})
    desk.slack.run_shortcut(desk.url, SHORTCUT, "USAM", CHANNEL, str(handoff.card_ts))
    sams_modal = desk.slack.views()[-1]["id"]
    pick(desk, "UALEX", handoff, "tracking")
    desk.slack.click_ephemeral(desk.url, "UALEX", SEND)  # Alex now has the handoff

    # Sam's modal was opened before that: submitting it now is refused, in the thread.
    desk.slack.submit_view(desk.url, sams_modal, "USAM", {REPLY_BLOCK: "closing"})
    refusal = desk.slack.ephemerals("USAM")[-1]
    assert "has this handoff" in refusal["text"] and refusal["thread_ts"] == handoff.card_ts
    assert SEND not in blocks_text(refusal)

    # A reply id that is not in the library (a tampered submission) previews nothing.
    desk.slack.run_shortcut(desk.url, SHORTCUT, "UALEX", CHANNEL, str(handoff.card_ts))
    desk.slack.submit_view(
        desk.url, desk.slack.views()[-1]["id"], "UALEX", {REPLY_BLOCK: "nope"}, forged=True
    )
    assert desk.slack.ephemerals("UALEX")[-1]["text"] == STALE
    assert len(said(desk.store)) == 1
