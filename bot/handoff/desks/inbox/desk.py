"""The built-in agent inbox as a desk: posts are plain-text rows in ``desk_messages``, shown at /inbox.

It exists so a new user can watch a whole handoff without creating a Slack app. What it
stores is what the agent reads (see :mod:`.render`): no Slack entities, no mrkdwn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.db import run_sync
from bot.handoff.desks.base import CardRef, CardState, Notice
from bot.handoff.desks.inbox import render
from bot.handoff.store import HandoffStore

# Authors of the inbox's thread entries that are not an agent (agents are stored by name).
CUSTOMER = "customer"
NOTICE = "notice"
CARD = "bot"


class InboxDesk:
    """Where agents work handoffs when no Slack workspace is configured."""

    name = "local"
    channel = "local-inbox"

    def __init__(self, store: HandoffStore) -> None:
        self.store = store

    async def show_card(
        self,
        packet: Mapping[str, Any],
        state: CardState,
        card: CardRef | None,
        *,
        key: str | None = None,
        channel: str | None = None,  # one inbox: a routed team is shown on the card, not a place
    ) -> CardRef:
        text = render.card_text(packet, state)
        if card is None:
            ts = await run_sync(self.store.desk_post, author=CARD, text=text, key=key)
            return CardRef(self.channel, ts)
        await run_sync(self.store.desk_update, card.ts, text=text)
        return card

    async def post_customer_message(self, card: CardRef, text: str, *, key: str | None = None) -> None:
        await self._post(card, CUSTOMER, render.untrusted(text) or "(no text)", key)

    async def post_notice(
        self, card: CardRef, kind: Notice, *, key: str | None = None, **fields: Any
    ) -> None:
        await self._post(card, NOTICE, render.notice_text(kind, **fields), key)

    async def post_survey_followup(
        self, card: CardRef, *, destination: str | None, key: str | None = None, **fields: Any
    ) -> CardRef:
        """An unhappy survey answer, in the handoff's own inbox thread (a Slack ``destination`` means
        nothing here), linking to the handoff on the inbox page."""
        handoff_id = fields.pop("handoff_id", None)
        link = f"/inbox#handoff-{handoff_id}" if handoff_id is not None else ""
        text = render.notice_text(Notice.SURVEY_FOLLOWUP, **fields, link=link)
        ts = await run_sync(self.store.desk_post, author=NOTICE, text=text, thread_ts=card.ts, key=key)
        return CardRef(self.channel, ts)

    async def find_delivery(
        self, key: str, card: CardRef | None, *, channel: str | None = None
    ) -> CardRef | None:
        """The inbox post carrying ``key`` (a unique column: a post can exist once at most)."""
        ts = await run_sync(self.store.desk_find, key)
        return CardRef(self.channel, ts) if ts else None

    async def permalink(self, card: CardRef) -> str:
        """The handoff's place on the inbox page (its section's ``id``, inbox.js)."""
        handoff = await run_sync(self.store.by_card, card.ts)
        return f"/inbox#handoff-{handoff.id}" if handoff is not None else "/inbox"

    def transcript(
        self, packet: Mapping[str, Any], lines: Sequence[Mapping[str, Any]] | None = None
    ) -> list[dict[str, str]]:
        return render.transcript(packet, lines)

    async def agent_name(self, user_id: str) -> str:
        return user_id  # the routes pass the logged-in account's name (accounts.py), never the body's

    async def _post(self, card: CardRef, author: str, text: str, key: str | None) -> None:
        await run_sync(self.store.desk_post, author=author, text=text, thread_ts=card.ts, key=key)
