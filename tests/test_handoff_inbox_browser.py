"""The attack on the agents' inbox, in a real browser: customer HTML is shown as text and never runs.

Real Chromium (headless, like the web-chat browser test: skipped locally without it, a
failure under CI=true), the inbox's real page, script and API, served from a real store.
Run it under the heavy lock: it starts Chromium.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.customers import CustomerStore
from bot.handoff.desks.inbox.routes import add_inbox_routes
from tests.support.inbox import AGENT, PASSWORD, add_agent
from tests.test_handoff_inbox import deliver_desk_items, make_relay, open_handoff
from tests.test_webchat_browser import chromium  # noqa: F401  (the fixture: Chromium, or skip / fail in CI)

# Each one would set window.pwned if the browser ever parsed it as markup (and CSP let it run).
ATTACKS = (
    '<img src=x onerror="window.pwned=1">',
    "<script>window.pwned=2</script>",
    '<svg onload="window.pwned=3"></svg>',
    '<a href="javascript:window.pwned=4">click</a>',
)


@pytest.fixture
def inbox_url(store: CustomerStore) -> Iterator[str]:
    """The inbox, serving one handoff whose customer sent every attack, on a loop in its own thread."""
    relay, handoffs = make_relay(store)
    add_agent(store)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        handoff = open_handoff(handoffs)
        await deliver_desk_items(relay, handoffs)
        for n, attack in enumerate(ATTACKS):
            handoffs.relay_customer_message("web-1", attack, 1_700_000_010.0 + n)
        await deliver_desk_items(relay, handoffs)
        holder["handoff"] = handoff
        app = web.Application()
        add_inbox_routes(app, relay, handoffs)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        holder["server"] = server

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30), "the inbox server did not start"
    yield str(holder["server"].make_url("/inbox"))
    asyncio.run_coroutine_threadsafe(holder["server"].close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_customer_html_in_the_inbox_is_text_in_a_real_browser(chromium: str, inbox_url: str) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"], headless=True)
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(inbox_url)
            # The agent logs in first, as in the real inbox (the form, the cookie, the CSRF header).
            page.fill("#login-name", AGENT)
            page.fill("#login-password", PASSWORD)
            page.click("#login button[type=submit]")
            expect(page.locator("#agent")).to_have_text(AGENT, timeout=15_000)
            lines = page.locator(".thread .line")
            # The agent sees exactly what the customer typed, as text.
            shown = [re.compile("^Replies in this thread"), *(f"Customer: {attack}" for attack in ATTACKS)]
            expect(lines).to_have_text(shown, timeout=15_000)
            expect(page.locator(".card h2")).to_contain_text("Maria <img src=x onerror=alert(1)>")
            assert page.locator("main img, main script, main svg, main a[href]").count() == 0
            page.wait_for_timeout(500)  # give an image error or a script the time to fire
            assert page.evaluate("window.pwned") is None and dialogs == [] and errors == []
            assert page.evaluate("document.cookie") == ""  # the session cookie is HttpOnly
            # A click goes through with the CSRF header: the handoff is claimed by the account.
            page.click(".card button:has-text('Claim')")
            expect(page.locator(".card .status")).to_have_text("claimed", timeout=15_000)
            page.click("#logout")
            expect(page.locator("#login")).to_be_visible(timeout=15_000)
        finally:
            browser.close()
