"""The few Rasa HTTP API calls the relay needs to speak to a customer mid-handoff.

An agent's reply is appended to the conversation as a ``bot`` event with
``execute_side_effects`` and ``output_channel=<the handoff's channel>``: Rasa records it in
the tracker (with the agent in its metadata) *and* sends it through the channel the
handoff was opened on (web chat, X, Slack Connect, ...). One code path for every channel.

Never ``output_channel=latest``: that is whichever channel last wrote to this conversation
id, and a stranger who reached the same id from another channel would get the agent's
replies (with the customer's details) instead of the customer.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.outbox import RetryLater


class RasaAPI:
    """Client for one Rasa server (``--enable-api``), with its auth token if it has one."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def _call(
        self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None
    ) -> Any:
        query = dict(params or {})
        if self.token:
            query["token"] = self.token
        try:
            async with (
                aiohttp.ClientSession(timeout=self.timeout) as session,
                session.request(method, self.url + path, params=query, json=body) as response,
            ):
                if response.status >= 500 or response.status in (408, 409, 429):
                    raise RetryLater(f"Rasa answered {response.status} to {method} {path}")
                if response.status >= 400:
                    detail = (await response.text())[:300]
                    raise RuntimeError(f"Rasa refused {method} {path}: {response.status} {detail}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RetryLater(f"Rasa server unreachable at {self.url}: {exc!r}") from exc

    @staticmethod
    def _conversation(conversation_id: str) -> str:
        return "/conversations/" + quote(conversation_id, safe="")

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        return await self._call("GET", self._conversation(conversation_id) + "/tracker")

    async def append(
        self, conversation_id: str, events: list[dict[str, Any]], *, deliver_on: str | None = None
    ) -> None:
        """Append events; with ``deliver_on`` (a channel name) bot messages also go out on it."""
        params = {"output_channel": deliver_on, "execute_side_effects": "true"} if deliver_on else {}
        await self._call("POST", self._conversation(conversation_id) + "/tracker/events", params, events)

    async def say(
        self,
        conversation_id: str,
        text: str,
        metadata: dict[str, Any],
        custom: dict[str, Any] | None = None,
        *,
        channel: str,
    ) -> None:
        """Record a message written by an agent and deliver it on ``channel`` (``custom``: extra JSON)."""
        event: dict[str, Any] = {"event": "bot", "text": text, "metadata": metadata, "timestamp": time.time()}
        if custom:
            event["data"] = {"custom": custom}
        await self.append(conversation_id, [event], deliver_on=channel)

    async def has_message_with(self, conversation_id: str, key: str, value: Any) -> bool:
        """Whether a bot message carrying ``metadata[key] == value`` is already recorded."""
        events = (await self.tracker(conversation_id)).get("events") or []
        return any(e.get("event") == "bot" and (e.get("metadata") or {}).get(key) == value for e in events)

    async def pause(self, conversation_id: str) -> None:
        await self.append(conversation_id, [{"event": "pause", "timestamp": time.time()}])

    async def resume(self, conversation_id: str, intent: str, *, channel: str) -> None:
        """Un-pause and let the bot speak first on ``channel``, via an external intent (see rules.yml)."""
        now = time.time()
        await self.append(
            conversation_id,
            # action_listen: the bot is listening again, so rules match the next message.
            [
                {"event": "resume", "timestamp": now},
                {"event": "action", "name": "action_listen", "timestamp": now},
            ],
        )
        await self._call(
            "POST",
            self._conversation(conversation_id) + "/trigger_intent",
            {"output_channel": channel},
            {"name": intent, "entities": {}},
        )
