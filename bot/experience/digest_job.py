"""Posting the digest, and the worker's weekly job that posts it exactly once a week.

Once a week — at business.yml ``digest.weekday`` / ``digest.time``, local time — the worker
queues one outbox item whose dedupe key is ``digest:<ISO week>`` (bot/outbox.py): however
many workers run, however often one restarts, the week has one item, and the outbox's
lease lets one worker deliver it. The delivery builds the report for the week before, and
posts it carrying the same key: in Slack as message metadata, looked for in the channel
before every post (so even after the outbox has pruned the item, a restart cannot post the
week twice); in the agent inbox as the post's unique ``delivery_key``. A Slack outage only
delays it (retried with back-off, like every outbox item).

Wired into the worker by ``mount_digest`` in bot/worker.py ``create_app``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError

from bot.db import Database, run_sync
from bot.experience.digest import DAY_NAMES, DigestSettings, DigestSettingsError, digest_period, digest_text
from bot.handoff.desks.slack.desk import CONFIGURATION_ERRORS, DELIVERY_EVENT, PERMANENT_ERRORS, SlackDesk
from bot.handoff.settings import SlackSettings
from bot.outbox import GiveUp, Outbox, OutboxRecord, OutboxWorker, RetryLater, enqueue

if TYPE_CHECKING:
    from bot.worker import WorkerSettings

logger = logging.getLogger(__name__)

QUEUE = "digest:weekly"
KIND = "post_digest"
INBOX_AUTHOR = "digest"


class DeliveryError(RuntimeError):
    """The digest could not be posted now (``python -m bot digest --send``); the message says why."""


def week_key(moment: datetime, timezone: str) -> str:
    """``2026-W48``: the ISO week of ``moment`` in the business's timezone."""
    year, week, _ = moment.astimezone(ZoneInfo(timezone)).isocalendar()
    return f"{year}-W{week:02d}"


def due_this_week(now: datetime, settings: DigestSettings, timezone: str) -> date | None:
    """The local date of this ISO week's digest if its moment has come, else None."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    day = local.date() - timedelta(days=local.weekday()) + timedelta(days=DAY_NAMES.index(settings.weekday))
    moment = datetime.combine(day, settings.at, zone)
    return day if now >= moment else None


def build_digest(
    days: int, now: datetime, endpoints: Path, *, slack: bool, database_url: str | None = None,
    data_directory: Path | None = None, business_path: Path | None = None, last_day: date | None = None,
) -> str:  # fmt: skip
    """The digest of ``days`` full local days ending ``last_day`` (default: yesterday)."""
    from bot.business import load_business_settings
    from bot.experience.periods import Period
    from bot.experience.report import load_report, metric_settings
    from bot.review.digest import reviews_folder, top_clusters
    from bot.settings import customer_database_url, data_dir

    timezone = metric_settings(business_path).timezone
    first, last = digest_period(days, now, timezone)
    if last_day is not None:
        first, last = last_day - timedelta(days=days - 1), last_day
    report = load_report(
        Period(first, last, timezone), endpoints_file=endpoints,
        database_url=database_url or customer_database_url(), data_dir=data_directory or data_dir(),
        now=now, business_path=business_path,
    )  # fmt: skip
    report["miss_clusters"] = top_clusters(reviews_folder(data_directory or data_dir()))
    return digest_text(report, business=load_business_settings(business_path).name, slack=slack)


@dataclass(frozen=True)
class Destination:
    """Slack (the agents' app, ``channel`` or the handoff channel) or, without Slack, the agent inbox."""

    database_url: str
    slack: SlackSettings | None
    channel: str | None = None

    def describe(self) -> str:
        if self.slack is None:
            return "the agent inbox"
        return f"Slack channel {self.channel or self.slack.channel}"

    async def post(self, key: str, texts: Callable[[bool], str], *, check_first: bool = True) -> None:
        """Post once per ``key``; ``texts(slack)`` renders mrkdwn (True) or plain text (False)."""
        if self.slack is None:
            from bot.customers import CustomerStore
            from bot.handoff.store import HandoffStore

            store = HandoffStore(CustomerStore(self.database_url))
            text = await run_sync(texts, False)
            await run_sync(store.desk_post, author=INBOX_AUTHOR, text=text, key=key)
            return
        from bot.db import Database
        from bot.handoff.desks.slack.posts import SlackPosts
        from bot.handoff.slack_app import slack_client

        client = slack_client(self.slack)
        channel = self.channel or self.slack.channel
        posts = SlackPosts(Database(self.database_url))  # our posts, recorded (Slack is never read back)
        if check_first and await SlackDesk(client, channel, posts).find_delivery(key, None) is not None:
            return  # this week's digest is already there (a restart, a retry after a lost answer)
        text = await run_sync(texts, True)
        try:
            answer = await client.chat_postMessage(
                channel=channel, text=text, unfurl_links=False, unfurl_media=False,
                metadata={"event_type": DELIVERY_EVENT, "event_payload": {"key": key}},
            )  # fmt: skip
            await run_sync(lambda: posts.record(str(answer["channel"]), str(answer["ts"]), key=key))
        except SlackApiError as exc:
            error = str(exc.response.get("error") if hasattr(exc.response, "get") else exc)
            if exc.response.status_code == 429:
                raise RetryLater("Slack rate limit (429)", retry_after=_retry_after(exc)) from exc
            if error in PERMANENT_ERRORS:
                raise GiveUp(f"Slack refused the digest: {error}") from exc
            hint = CONFIGURATION_ERRORS.get(error, "")
            if error == "channel_not_found":
                hint = "business.yml digest.slack_channel (or the handoff channel) does not exist"
            raise RetryLater(f"Slack error {error}" + (f": {hint}" if hint else "")) from exc
        except (OSError, TimeoutError) as exc:
            raise RetryLater(f"Slack unreachable: {exc!r}") from exc


def latest_inbox_digest(database_url: str) -> dict[str, str] | None:
    """The newest digest kept in the inbox (no Slack), for the dashboard: ``{"text", "at"}`` or None."""
    from sqlalchemy import select

    from bot.customers import CustomerStore
    from bot.handoff.models import DeskMessage

    with CustomerStore(database_url).session() as session:
        newest = select(DeskMessage).where(DeskMessage.author == INBOX_AUTHOR).order_by(DeskMessage.id.desc())
        row = session.scalars(newest.limit(1)).first()
        if row is None:
            return None
        return {"text": str(row.text), "at": f"{row.created_at:%Y-%m-%d %H:%M} UTC"}


def _retry_after(exc: SlackApiError) -> float:
    headers = exc.response.headers or {}
    return float(headers.get("Retry-After", headers.get("retry-after", 1)))


def send_now(days: int, now: datetime, endpoints: Path, settings: DigestSettings) -> str:
    """``python -m bot digest --send``: post the digest now; returns where it went."""
    from bot.handoff.settings import slack_settings
    from bot.settings import customer_database_url

    destination = Destination(customer_database_url(), slack_settings(), settings.slack_channel)
    key = f"digest:manual:{now.strftime('%Y%m%dT%H%M%S')}"
    try:
        asyncio.run(destination.post(key, lambda slack: build_digest(days, now, endpoints, slack=slack)))
    except (RetryLater, GiveUp) as exc:
        raise DeliveryError(f"{exc}; nothing was posted") from exc
    return destination.describe()


@dataclass
class DigestJob:
    """Queues this week's digest once its moment has come, and delivers it (see the module docstring)."""

    settings: DigestSettings
    timezone: str
    destination: Destination
    endpoints_file: Path
    data_directory: Path
    business_path: Path | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    interval: float = 60.0  # how often the moment is checked (seconds)
    poll: float = 1.0  # how often the outbox is read

    def schedule(self) -> bool:
        """Queue this week's item if it is due; False when not due or already queued (by anyone)."""
        now = self.clock()
        day = due_this_week(now, self.settings, self.timezone)
        if day is None:
            return False
        week = week_key(now, self.timezone)
        payload = {
            "week": week,
            "last_day": (day - timedelta(days=1)).isoformat(),
            "days": self.settings.days,
        }
        with Database(self.destination.database_url).session() as session:
            queued = enqueue(session, QUEUE, KIND, payload, dedupe_key=f"digest:{week}")
        if queued:
            logger.info("digest: queued the digest of %s", week)
        return queued

    async def deliver(self, item: OutboxRecord) -> None:
        payload = item.payload
        key = f"digest:{payload['week']}"

        def texts(slack: bool) -> str:
            return build_digest(
                int(payload["days"]), self.clock(), self.endpoints_file, slack=slack,
                database_url=self.destination.database_url, data_directory=self.data_directory,
                business_path=self.business_path, last_day=date.fromisoformat(str(payload["last_day"])),
            )  # fmt: skip

        await self.destination.post(key, texts)
        logger.info("digest: posted the digest of %s to %s", payload["week"], self.destination.describe())

    async def run(self, stop: asyncio.Event) -> None:
        outbox = Outbox(Database(self.destination.database_url).session, prefixes=(QUEUE,))
        worker = OutboxWorker(outbox, self.deliver, interval=self.poll, timeout=120)
        delivering = asyncio.create_task(worker.run(stop))
        while not stop.is_set():
            try:
                await run_sync(self.schedule)
            except Exception:  # the database is away: the next check tries again
                logger.exception("digest: cannot queue this week's digest; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(delivering, timeout=10)

    def context(self) -> Callable[[Any], AsyncIterator[None]]:
        """An aiohttp ``cleanup_ctx`` running the job until the app stops."""

        async def background(_app: Any) -> AsyncIterator[None]:
            stop = asyncio.Event()
            task = asyncio.create_task(self.run(stop))
            yield
            stop.set()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=15)

        return background


def mount_digest(app: Any, settings: WorkerSettings) -> DigestJob | None:
    """The weekly digest in the worker (None when business.yml turns it off or cannot be read)."""
    from bot.experience.digest import digest_settings
    from bot.experience.report import metric_settings
    from bot.settings import data_dir

    if settings.endpoints_file is None:
        return None
    try:
        digest = digest_settings()
        timezone = metric_settings().timezone
    except (DigestSettingsError, ValueError) as exc:
        logger.error("digest: %s; the weekly digest is off until business.yml is fixed", exc)
        return None
    if not digest.enabled:
        return None
    destination = Destination(settings.database_url, settings.relay.slack, digest.slack_channel)
    job = DigestJob(digest, timezone, destination, settings.endpoints_file, data_dir())
    app.cleanup_ctx.append(job.context())
    return job
