"""Slack's platform limits and its own events: per-channel posting rate, call counts, and the
``message_metadata_posted`` events Slack sends the app about its posts.

A mixin of :class:`tests.fakes.slack.FakeSlack` (its lock, workspace, calls and senders).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from aiohttp import web

from tests.fakes.server import Call, Delivery
from tests.fakes.slack.web_api import PostRateLimit


class PlatformLimits:
    """Rate limits, call counts and Slack's own events (mixed into FakeSlack)."""

    # ------------------------------------------------------------------ rate limits and metadata events

    def limit_rate(self, per_second: float = 1.0, burst: int = 3, *, enabled: bool = True) -> None:
        """Answer ``chat.postMessage`` beyond ``per_second`` per channel (after a ``burst``) with 429.

        Slack allows about one message a second per channel with short bursts; tests that need
        many posts use a faster rate that is still a limit (the code under test must pace itself).
        """
        with self._lock:
            self.rate_limit = PostRateLimit(per_second, burst) if enabled else None

    def rate_limited(self) -> list[tuple[str, float, int]]:
        """Every 429 answered so far: (channel, monotonic time, Retry-After seconds)."""
        with self._lock:
            return list(self.rate_limit.limited) if self.rate_limit else []

    def post_attempts(self, channel: str | None = None) -> list[float]:
        """Monotonic times of every ``chat.postMessage`` seen by the rate limit (429s included)."""
        with self._lock:
            found = self.rate_limit.attempts if self.rate_limit else []
            return [at for where, at in found if channel in (None, where)]

    def call_counts(self) -> dict[str, int]:
        """How often each Web API method was called (failed and refused calls included)."""
        counts: dict[str, int] = {}
        for call in self.api_calls():
            counts[call.endpoint] = counts.get(call.endpoint, 0) + 1
        return counts

    def subscribe_app(self, url: str | None, *, metadata_events: bool | None = True) -> None:
        """Where Slack sends the app's events on its own (``message_metadata_posted``), over HTTP.

        In Socket Mode they go to the app's connection and ``url`` is ignored; ``metadata_events``
        False switches them off (None: on when the fake knows the app).
        """
        with self._lock:
            self.events_url, self.metadata_events = url, metadata_events

    def metadata_deliveries(self) -> list[Delivery]:
        """Every ``message_metadata_posted`` sent to the app so far, with how the app answered."""
        with self._lock:
            return [d for d in self._deliveries if d.kind == "event message_metadata_posted"]

    def flush_events(self, timeout: float = 15) -> None:
        """Wait until every event Slack sends on its own (after a post) has been delivered."""
        self.wait_for(lambda: self._event_queue.unfinished_tasks == 0, timeout=timeout)

    def _rate_limited(self, method: str, params: dict[str, Any]) -> web.Response | None:
        """The 429 a post beyond the channel's rate gets (lock held), or None."""
        if method != "chat.postMessage" or self.rate_limit is None or not params.get("channel"):
            return None
        retry_after = self.rate_limit.take(str(params["channel"]))
        if retry_after is None:
            return None
        self._calls.append(Call(method, 429, params))
        error = {"ok": False, "error": "ratelimited"}
        return web.json_response(error, status=429, headers={"Retry-After": str(retry_after)})

    def _after_call(self, method: str, body: dict[str, Any]) -> None:
        """What Slack sends on its own after a call (lock held): ``message_metadata_posted``.

        Sent to apps subscribed to the metadata's event type (slack_app_manifest.yml), also when
        the poster never heard the answer; queued, and delivered from a thread of its own, so the
        fake keeps serving the app's own calls meanwhile.
        """
        message = body.get("message") or {}
        if method != "chat.postMessage" or not body.get("ok") or not body.get("ts"):
            return
        stored = self.workspace.messages.get(str(body["ts"])) or {}
        wanted = self.metadata_events
        knows_app = bool(self.events_url or self.socket_mode)
        if not stored.get("metadata") or wanted is False or (wanted is None and not knows_app):
            return
        event = {
            "type": "message_metadata_posted", "app_id": message.get("app_id", self.api_app_id),
            "bot_id": message.get("bot_id", self.bot_id), "user_id": message.get("user", self.bot_user_id),
            "team_id": self.team_id, "channel_id": body.get("channel"),
            "metadata": copy.deepcopy(stored["metadata"]), "message_ts": body["ts"],
            "event_ts": self.workspace.new_ts(),
        }  # fmt: skip
        self._event_queue.put(event)
        if self._event_thread is None or not self._event_thread.is_alive():
            self._event_thread = threading.Thread(
                target=self._send_queued_events, name="fake-slack-events", daemon=True
            )
            self._event_thread.start()

    def _send_queued_events(self) -> None:
        while True:
            event = self._event_queue.get()
            try:
                if self.socket_mode or self.events_url:  # Socket Mode ignores the url
                    self.send_event(self.events_url or "", event)
            except Exception as exc:  # a test that stopped the app: recorded, never raised into the fake
                with self._lock:
                    self._deliveries.append(Delivery("event message_metadata_posted", "-", 0, repr(exc)))
            finally:
                self._event_queue.task_done()
