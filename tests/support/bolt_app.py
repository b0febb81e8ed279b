"""The relay's real Bolt app in the test process, reached by the fake Slack over HTTP or Socket Mode.

Why: most desk tests need the listeners (bot/handoff/slack_app.py) but not Rasa. The app is
served exactly as bot/handoff/server.py mounts it — ``POST /slack/events`` through Bolt's
aiohttp adapter, or the real ``AsyncSocketModeHandler`` on the fake's WebSocket — on an event
loop thread of its own, so the test's synchronous fake-Slack calls can wait for answers.
tests/support/desk_rig.py ``drain_desk`` then delivers what the listeners queued for the desk.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from tests.fakes.server import ThreadedServer
from tests.fakes.slack import FakeSlack


class BoltServer(ThreadedServer):
    """The relay's ``/slack/events`` route, as bot/handoff/server.py mounts it, on its own thread."""

    def __init__(self, slack_app: AsyncApp) -> None:
        super().__init__()
        self.slack_app = slack_app

    def build_app(self) -> web.Application:
        async def events(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await self.slack_app.async_dispatch(await to_bolt_request(request))
            )

        app = web.Application()
        app.router.add_post("/slack/events", events)
        return app


@contextmanager
def connected(app: AsyncApp, app_token: str) -> Iterator[AsyncSocketModeHandler]:
    """The real Socket Mode handler connected from its own event loop thread (the fake has its own)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> AsyncSocketModeHandler:
        handler = AsyncSocketModeHandler(app, app_token)
        await handler.connect_async()
        return handler

    handler = asyncio.run_coroutine_threadsafe(start(), loop).result(15)
    try:
        yield handler
    finally:
        asyncio.run_coroutine_threadsafe(handler.close_async(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@contextmanager
def serving(app: AsyncApp, slack: FakeSlack) -> Iterator[str]:
    """``app`` reachable by ``slack``: yields the events URL (HTTP) or "" (Socket Mode, connected)."""
    if slack.socket_mode:
        with connected(app, slack.app_token):
            slack.wait_for(lambda: slack.socket.connections()[1] == 1)
            yield ""
    else:
        with BoltServer(app) as server:
            yield f"{server.base_url}/slack/events"
