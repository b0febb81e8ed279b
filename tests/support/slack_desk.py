"""The whole bot with its desk in a fake Slack workspace that has agents, a lead and outsiders.

Used by tests/security/test_slack_authorisation.py (fixture ``guarded_slack`` in
tests/conftest.py). The worker runs with ``SLACK_AGENT_GROUP`` and ``SLACK_LEAD_USERS`` and
without ``SLACK_TEAM_ID``, so it learns its workspace from the fake's ``auth.test`` as a
default installation does. The people:

- ``UALEX``, ``USAM``: agents (members of the agent group ``S0AGENTS``);
- ``ULEAD``: a lead (``SLACK_LEAD_USERS``), not in the agent group;
- ``UNOBODY``: a full member of the workspace, not an agent;
- ``UGUEST``: a single-channel guest, although in the agent group;
- ``UPARTNER``: a Slack Connect member of another organisation (team ``T0PARTNER``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.customers import CustomerStore
from bot.handoff.desks.slack import CLAIM, RESOLVE, TRANSCRIPT
from bot.handoff.store import HandoffStore
from tests.fakes.slack import FakeSlack
from tests.support.bot import whole_bot, write_business_file
from tests.support.webchat import WebChatCustomer

CHANNEL = "C0HANDOFF"
OTHER_CHANNEL = "C0RANDOM"
AGENT_GROUP = "S0AGENTS"
FOREIGN_TEAM = "T0EVIL"
PARTNER_TEAM = "T0PARTNER"


@dataclass
class GuardedSlack:
    """The running bot, the fake Slack, and what a test needs to read the handoff's state."""

    bot: Any
    slack: FakeSlack
    handoffs: HandoffStore
    log_dir: Path

    @property
    def events_url(self) -> str:
        return f"{self.bot.relay_url}/slack/events"

    def open_handoff(self) -> tuple[WebChatCustomer, dict[str, Any]]:
        """A new web-chat customer asks for a person; returns them and the card (its thread settled)."""
        customer = WebChatCustomer(self.bot.rasa_url)
        customer.ask("I want to talk to a human", "person from our support team")
        customer.wait_for_handoff_state("waiting")
        session = customer.session_id
        card = self.slack.wait_for(
            lambda: next(
                (m for m in self.slack.messages(CHANNEL) if session in json.dumps(m.get("blocks"))), None
            ),
            timeout=15,
        )
        # The relay posts the how-to notice right after the card: wait, so the thread is settled.
        self.slack.wait_for(lambda: any(r.get("bot_id") for r in self.slack.replies(card["ts"])))
        return customer, card

    def state(self, card: dict[str, Any]) -> tuple[str, str | None]:
        """(status, claimed_by) of the card's handoff, from the database."""
        handoff = self.handoffs.by_card(card["ts"])
        assert handoff is not None, f"no handoff for card {card['ts']}"
        return str(handoff.status), handoff.claimed_by

    def card_json(self, card: dict[str, Any]) -> str:
        message = self.slack.message(card["ts"])
        assert message is not None
        return json.dumps({"text": message["text"], "blocks": message["blocks"]})

    def click(self, action: str, card: dict[str, Any], user: str, **kw: Any) -> int:
        """``user`` clicks ``action`` on the card (``channel``/``team_id`` in ``kw`` to forge where)."""
        channel = kw.pop("channel", CHANNEL)
        status, _ = self.slack.click_button(
            self.events_url, action, handoff_id(card), user, channel, card["ts"], **kw
        )
        return status

    def reply(self, card: dict[str, Any], user: str, text: str, **kw: Any) -> int:
        """``user`` writes ``text`` in the card's thread (``channel``/``team_id`` in ``kw``)."""
        channel = kw.pop("channel", CHANNEL)
        status, _, _ = self.slack.post_thread_reply(self.events_url, channel, card["ts"], user, text, **kw)
        return status

    def worker_log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("worker*.log")))


def handoff_id(card: dict[str, Any]) -> str:
    """The handoff id the card's buttons carry."""
    for block in card.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") in (CLAIM, RESOLVE, TRANSCRIPT):
                return str(element["value"])
    raise AssertionError("card has no handoff buttons")


def populate(slack: FakeSlack) -> None:
    slack.add_channel(CHANNEL, "support-handoffs")
    slack.add_channel(OTHER_CHANNEL, "random")
    slack.add_user("UALEX", "Alex Morgan", "Alex")
    slack.add_user("USAM", "Sam Lee", "Sam")
    slack.add_user("ULEAD", "Lee Adams", "Lee")
    slack.add_user("UNOBODY", "Noa Body", "Noa")
    slack.add_user("UGUEST", "Gus Guest", "Gus", guest="single")
    slack.add_user("UPARTNER", "Pat Partner", "Pat", team_id=PARTNER_TEAM)
    slack.add_usergroup(AGENT_GROUP, "support-agents", ["UALEX", "USAM", "UGUEST", "UPARTNER"])


@contextmanager
def guarded_slack_bot(model: Path, data_dir: Path) -> Iterator[GuardedSlack]:
    with FakeSlack() as slack:
        populate(slack)
        business = write_business_file(data_dir / "business.yml")
        env = {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_HANDOFF_CHANNEL": CHANNEL,
            "SLACK_API_URL": slack.api_url,
            "SLACK_AGENT_GROUP": AGENT_GROUP,
            "SLACK_LEAD_USERS": "ULEAD",
            "SUPPORTBOT_BUSINESS_FILE": str(business),
        }
        with whole_bot(model, data_dir, env) as processes:
            customers = CustomerStore(f"sqlite:///{data_dir / 'customers.db'}")
            yield GuardedSlack(processes, slack, HandoffStore(customers), data_dir / "logs")
