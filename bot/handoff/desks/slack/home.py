"""The App Home tab: each agent's live queue, kept up to date within Slack's rate limits.

Why a loop and hashes instead of a publish per change: ``views.publish`` is per user, so one
claim seen by ten agents is ten calls, and a burst of handoffs would be hundreds. Instead
every few seconds (``SLACK_HOME_REFRESH_SECONDS``) the publisher reads the open handoffs once,
builds each known viewer's view (bot/handoff/desks/slack/home_view.py, pure) and publishes
only the views whose hash changed since the last publish (``slack_home_views``). However
many events happen in between, an agent gets at most one publish per round, and since the
view's times are whole minutes an idle queue costs at most one publish a minute. A 429
pauses publishing for its Retry-After; the next round catches up.

Who sees what (bot/handoff/desks/slack/access.py): a viewer must pass ``check_agent`` (not a
guest, not another organisation's, in ``SLACK_AGENT_GROUP``), otherwise they get a short
"agents only" view with nothing about any customer and are forgotten. An agent in a routed
team's ``notify_group`` sees their teams' queues (and handoffs of teams without a group); an
agent in no team's group, and a lead, see every team. The group members come from the
access checks' own cache of ``usergroups.users.list``.

Claim from the tab has its own action id (the card's Claim only accepts clicks on the card):
the click must come from a Home view, name a handoff in the clicker's queue, and pass the
same checks as the card (a claimed one only for a lead: takeover). A refused click cannot be
answered ephemerally (a Home tab has no channel), so the reason is shown on top of the
clicker's view for a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot.db import run_sync
from bot.handoff.desks.slack.access import NOTHING_DONE, Origin, Refusal, SlackAccess, origin
from bot.handoff.desks.slack.checks import log_refusal
from bot.handoff.desks.slack.home_view import (
    HOME_CLAIM,
    HOME_OPEN_THREAD,
    QueueItem,
    Viewer,
    home_view,
    view_hash,
    visible,
)
from bot.handoff.models import SlackHomeView
from bot.handoff.relay import Relay
from bot.handoff.routing import RoutingSettings, load_routing_settings
from bot.handoff.sla import sla_status
from bot.handoff.states import HandoffStatus
from bot.handoff.store import HandoffRecord, HandoffStore
from bot.outbox import utcnow
from bot.settings import settings as process_settings

logger = logging.getLogger(__name__)

NOTE_SECONDS = 60.0  # how long a refused click's reason stays on top of the clicker's view
NOT_IN_QUEUE = "not-in-your-queue"
# views.publish errors a retry cannot fix, with the fix (the view is not sent again until it changes).
HINTS = {
    "not_enabled": ": enable the Home tab (slack_app_manifest.yml features.app_home) and reinstall the app",
    "invalid_blocks": ": a bug in bot/handoff/desks/slack/home_view.py",
}
_PUBLISHERS: weakref.WeakKeyDictionary[AsyncApp, HomePublisher] = weakref.WeakKeyDictionary()


# --------------------------------------------------------------------------- database


def known_viewers(store: HandoffStore) -> dict[str, str | None]:
    """Who opened the tab, with the hash of the view they were last sent."""
    with store.db.session() as session:
        return dict(session.execute(select(SlackHomeView.user_id, SlackHomeView.published_hash)).all())


def remember_viewer(store: HandoffStore, user_id: str, now: datetime) -> None:
    try:
        with store.db.session() as session:
            row = session.get(SlackHomeView, user_id)
            if row is None:
                session.add(SlackHomeView(user_id=user_id, opened_at=now))
            else:
                row.opened_at = now
    except IntegrityError:  # another worker recorded them at the same moment
        pass


def forget_viewer(store: HandoffStore, user_id: str) -> None:
    with store.db.session() as session:
        session.execute(delete(SlackHomeView).where(SlackHomeView.user_id == user_id))


def mark_published(store: HandoffStore, user_id: str, digest: str, now: datetime) -> None:
    with store.db.session() as session:
        row = session.get(SlackHomeView, user_id)
        if row is not None:
            row.published_hash, row.published_at = digest, now


# --------------------------------------------------------------------------- publishing


class RateLimited(Exception):
    """Slack answered 429: no more publishing this round."""


class HomePublisher:
    """Builds and publishes the viewers' Home views; see the module docstring."""

    def __init__(
        self,
        relay: Relay,
        access: SlackAccess,
        client: AsyncWebClient,
        *,
        routing: RoutingSettings | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.relay, self.access, self.client, self.clock = relay, access, client, clock
        self.routing = routing if routing is not None else load_routing_settings()
        seconds = process_settings().worker.slack_home_refresh_seconds if interval is None else interval
        self.interval = max(0.05, float(seconds))
        self.paused_until = 0.0
        self._notes: dict[str, tuple[str, float]] = {}
        self._failed: dict[str, str] = {}  # user -> hash of a view Slack refused (not retried as is)

    # --- who is looking ----------------------------------------------------------------

    async def viewer(self, user_id: str, where: Origin | None = None) -> Viewer:
        """What ``user_id`` may see; raises SlackApiError when Slack is busy (try again later)."""
        if where is None:
            team = frozenset({await self.access.team()})
            where = Origin(
                kind="home refresh", teams=team, user_teams=frozenset(), channel=None, user=user_id
            )
        if await self.access.check_agent(where) is not None:
            return Viewer(user_id, agent=False)
        note = self._notes.get(user_id)
        text = note[0] if note and note[1] > self.clock() else None
        if await self.access.is_lead(user_id):
            return Viewer(user_id, lead=True, note=text)
        groups = {name: team.notify_group for name, team in self.routing.teams.items() if team.notify_group}
        mine = {name for name, group in groups.items() if user_id in await self.access._members(group)}
        if not mine:
            return Viewer(user_id, note=text)
        shown = sorted(set(self.routing.teams) - (set(groups) - mine))
        return Viewer(user_id, hidden_teams=frozenset(groups) - mine, scope="Your teams: " + ", ".join(shown),
                      note=text)  # fmt: skip

    def items(self, handoffs: list[HandoffRecord], now: datetime) -> list[QueueItem]:
        hours = self.relay.settings.business_hours
        teams = self.routing.teams
        return [QueueItem(h, sla_status(h, teams.get(h.team or ""), now, hours)) for h in handoffs]

    # --- publishing --------------------------------------------------------------------

    async def publish(
        self, user_id: str, items: list[QueueItem] | None = None, *, last_hash: str | None = None,
        force: bool = False, where: Origin | None = None,
    ) -> bool:  # fmt: skip
        """Publish ``user_id``'s view if it changed (or ``force``); True if it was sent."""
        now = utcnow()
        if items is None:
            items = self.items(await run_sync(self.relay.store.list_active), now)
        viewer = await self.viewer(user_id, where)
        view = home_view(items, viewer, now)
        digest = view_hash(view)
        if not force and digest in (last_hash, self._failed.get(user_id)):
            return False
        if self.clock() < self.paused_until:
            raise RateLimited()
        try:
            await self.client.views_publish(user_id=user_id, view=view)
        except SlackApiError as exc:
            status, error = exc.response.status_code, exc.response.get("error")
            if status == 429:
                headers = exc.response.headers or {}
                retry_after = float(headers.get("Retry-After", headers.get("retry-after", 1)) or 1)
                self.paused_until = self.clock() + retry_after
                logger.warning("slack: views.publish rate limited; pausing App Home for %.0f s", retry_after)
                raise RateLimited() from exc
            if status >= 500:
                raise
            self._failed[user_id] = digest
            logger.error("slack: views.publish for %s refused (%s); the Home tab stays as it was%s",
                         user_id, error, HINTS.get(str(error), ""))  # fmt: skip
            return False
        self._failed.pop(user_id, None)
        if viewer.agent:
            await run_sync(mark_published, self.relay.store, user_id, digest, now)
        else:
            await run_sync(forget_viewer, self.relay.store, user_id)
        return True

    async def refresh(self) -> int:
        """One round: every known viewer's view, published where it changed. Returns how many were."""
        if self.clock() < self.paused_until:
            return 0
        viewers = await run_sync(known_viewers, self.relay.store)
        if not viewers:
            return 0
        items = self.items(await run_sync(self.relay.store.list_active), utcnow())
        sent = 0
        for user_id, last_hash in viewers.items():
            try:
                sent += await self.publish(user_id, items, last_hash=last_hash)
            except RateLimited:
                break
            except (SlackApiError, OSError, TimeoutError) as exc:  # Slack busy or away: next round
                logger.warning("slack: App Home of %s not refreshed this round: %r", user_id, exc)
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.refresh()
            except Exception:
                logger.exception("App Home refresh failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)

    # --- Slack's requests ----------------------------------------------------------------

    async def on_open(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """The Home tab was opened: remember an agent (forget anyone else) and publish at once."""
        if event.get("tab") != "home" or not event.get("user"):
            return
        user_id, where = str(event["user"]), origin(body)
        self._notes.pop(user_id, None)
        if await self.access.check_agent(where) is None:
            await run_sync(remember_viewer, self.relay.store, user_id, utcnow())
        with contextlib.suppress(RateLimited):
            await self.publish(user_id, force=True, where=where)

    async def on_claim(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Claim (or, for a lead, take over) from the Home tab, after the same checks as the card."""
        where = origin(body)
        from_home = (body.get("view") or {}).get("type") == "home"
        if (body.get("container") or {}).get("type") != "view" or not from_home:
            logger.info("slack: %s claim not from a Home tab ignored", where.kind)
            return
        try:
            handoff_id = int(str(action.get("value", "")))
        except ValueError:  # only a forged click carries anything but a handoff id
            logger.info("slack: Home claim with a malformed handoff id ignored")
            return
        handoff = await run_sync(self.relay.store.get, handoff_id)
        if handoff is None or not where.user:
            logger.info("slack: Home claim of unknown handoff %s ignored", handoff_id)
            return
        refusal = await self.access.check_agent(where)
        if refusal is None and not visible(handoff, await self.viewer(where.user, where)):
            refusal = Refusal(NOT_IN_QUEUE, ":information_source: That handoff is no longer in your queue. "
                              + NOTHING_DONE)  # fmt: skip
        if refusal is None and handoff.status == HandoffStatus.CLAIMED:
            refusal = await self.access.check_owner(handoff, where.user, "claim")
        if refusal is not None:
            log_refusal(where, refusal)
            await self.access.tell(refusal, where)  # a Home tab has no channel: this only logs
            if refusal.tell:
                self._notes[where.user] = (refusal.tell, self.clock() + NOTE_SECONDS)
        else:
            self._notes.pop(where.user, None)
            await self.relay.claim(handoff_id, where.user)
        with contextlib.suppress(RateLimited):
            await self.publish(where.user, force=True, where=where)


def register_home(app: AsyncApp, relay: Relay, access: SlackAccess, client: AsyncWebClient) -> HomePublisher:
    """Add the Home tab's listeners to ``app``; :func:`run_home` then keeps the views fresh."""
    publisher = HomePublisher(relay, access, client)
    _PUBLISHERS[app] = publisher

    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any], body: dict[str, Any]) -> None:
        await publisher.on_open(event, body)

    @app.action(HOME_CLAIM)
    async def on_home_claim(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        await publisher.on_claim(body, action)

    @app.action(HOME_OPEN_THREAD)
    async def on_open_thread(ack: Any) -> None:  # a link button: Slack opens the URL, we only acknowledge
        await ack()

    return publisher


def home_publisher(app: AsyncApp) -> HomePublisher | None:
    """The publisher :func:`register_home` added to ``app`` (tests drive its rounds themselves)."""
    return _PUBLISHERS.get(app)


async def run_home(app: AsyncApp | None, stop: asyncio.Event) -> None:
    """The refresh loop of the publisher registered on ``app`` (nothing to do without Slack)."""
    publisher = _PUBLISHERS.get(app) if app is not None else None
    if publisher is not None:
        await publisher.run(stop)
