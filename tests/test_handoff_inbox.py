"""The local inbox as a desk: the relay's news stored as plain text, and customer text never run as HTML.

Real relay, real store (SQLite and PostgreSQL), the inbox's real routes served by aiohttp;
the outbox items the relay queues are delivered the way the worker delivers them.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import ClientSession, CookieJar, web
from aiohttp.test_utils import TestServer

from bot.business import load_business_settings
from bot.customers import CustomerStore
from bot.handoff.desks.inbox import InboxDesk
from bot.handoff.desks.inbox.guard import InboxPolicy
from bot.handoff.desks.inbox.routes import add_agent_command, add_inbox_routes
from bot.handoff.rasa_api import RasaAPI
from bot.handoff.relay import Relay
from bot.handoff.store import HandoffStore
from tests.support.inbox import PASSWORD, add_agent, login_async

XSS = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert('inbox')</script>"
CARD_NUMBER = "4111 1111 1111 1111"
SLACK_MARKUP = ("&lt;", "&gt;", "&amp;", ":speech_balloon:", ":technologist:", ":memo:", "*Customer:*", "<!")


def packet() -> dict[str, Any]:
    return {
        "conversation_id": "web-1", "channel": "socketio", "reason": f"complaint {SCRIPT}",
        "customer": {"id": 1, "name": f"Maria {XSS}", "email": "maria.lopez@example.com", "plan": "Fiber"},
        "slots": {"issue": f"charged twice on {CARD_NUMBER}"},
        "transcript": [
            {"role": "customer", "text": f"{XSS} & my card {CARD_NUMBER}", "timestamp": 1_700_000_000.0,
             "intent": "complaint", "confidence": 0.61},
            {"role": "bot", "text": "Let me get you a person.", "timestamp": 1_700_000_001.0},
        ],
    }  # fmt: skip


def make_relay(store: CustomerStore) -> tuple[Relay, HandoffStore]:
    handoffs = HandoffStore(store)
    rasa = RasaAPI("http://127.0.0.1:9")  # never reached: only desk deliveries happen here
    return Relay(handoffs, InboxDesk(handoffs), rasa, load_business_settings().handoff), handoffs


async def deliver_desk_items(relay: Relay, handoffs: HandoffStore) -> list[str]:
    """Deliver what the relay queued for the desk, in order (customer deliveries are dropped here)."""
    delivered = []
    outbox = handoffs.outbox()
    while items := outbox.take_due():
        for item in items:
            if item.queue.startswith("desk:"):
                await relay.deliver(item)
                delivered.append(item.kind)
            outbox.mark_delivered(item.id)
    return delivered


def open_handoff(handoffs: HandoffStore) -> int:
    record, _ = handoffs.open_handoff(
        conversation_id="web-1", channel="socketio", customer_id=1, reason=f"complaint {SCRIPT}",
        packet=packet(), relay_after=1_700_000_001.0,
    )  # fmt: skip
    return record.id


def test_the_inbox_stores_plain_text_redacted_without_slack_markup(store: CustomerStore) -> None:
    relay, handoffs = make_relay(store)
    handoff = open_handoff(handoffs)

    async def scenario() -> None:
        await deliver_desk_items(relay, handoffs)
        handoffs.relay_customer_message(
            "web-1", f"still there? {XSS} {CARD_NUMBER} @channel", 1_700_000_010.0
        )
        await relay.claim(handoff, "Alex")
        await deliver_desk_items(relay, handoffs)
        assert (
            await relay.on_agent_message(
                thread_ts=handoffs.get(handoff).card_ts, message_ts="m1", agent_id="Alex", text="On it"
            )
            == "relayed"
        )
        await relay.resolve(handoff, "Alex")
        assert (
            await relay.on_agent_message(
                thread_ts=handoffs.get(handoff).card_ts,
                message_ts="m2",
                agent_id="Alex",
                text="one more thing",
            )
            == "handoff-resolved"
        )
        handoffs.record_followup("web-1", f"call me {XSS}")
        await deliver_desk_items(relay, handoffs)

    asyncio.run(scenario())
    record = handoffs.get(handoff)
    thread = handoffs.desk_thread(record.card_ts)
    assert [(m["author"], m["text"]) for m in thread] == [
        ("notice", "Replies in this thread go to the customer (claiming the handoff if needed). "
                   "Internal notes start with // and are not sent."),
        ("customer", f"still there? {XSS} [card •••• 1111] @channel"),
        ("notice", "Not sent — this handoff is resolved and the bot is back with the customer."),
        ("notice", f"The customer left a message: call me {XSS}"),
    ]  # fmt: skip
    everything = json.dumps(thread, ensure_ascii=False)
    assert not any(markup in everything for markup in SLACK_MARKUP) and CARD_NUMBER not in everything

    transcript = asyncio.run(relay.transcript_view(handoff))  # Rasa is down: the card's copy
    assert transcript[0] == {
        "time": "22:13", "who": "Customer", "text": f"{XSS} & my card [card •••• 1111]",
        "intent": "complaint 0.61",
    }  # fmt: skip


@asynccontextmanager
async def inbox_client(
    relay: Relay, handoffs: HandoffStore, **options: Any
) -> AsyncIterator[tuple[ClientSession, str]]:
    """The inbox's routes on a loopback server; a client session (keeping cookies) and its base URL."""
    app = web.Application()
    add_inbox_routes(app, relay, handoffs, **options)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
            yield session, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def with_inbox(
    store: CustomerStore, check: Callable[[ClientSession, str, dict[str, str]], Awaitable[None]]
) -> None:
    """The inbox's routes on a real server, and a client logged in as Alex (with its CSRF header)."""
    relay, handoffs = make_relay(store)
    add_agent(store)
    open_handoff(handoffs)
    await deliver_desk_items(relay, handoffs)
    handoffs.relay_customer_message("web-1", f"{XSS}{SCRIPT}", 1_700_000_010.0)
    await deliver_desk_items(relay, handoffs)
    async with inbox_client(relay, handoffs) as (session, base):
        await check(session, base, await login_async(session, base))


def test_a_customer_cannot_run_script_in_the_agents_inbox(store: CustomerStore) -> None:
    """The attack: HTML and script typed by the customer. It must arrive as text, and nothing may run it."""

    async def check(session: ClientSession, base: str, csrf: dict[str, str]) -> None:
        async with session.get(f"{base}/inbox/api/handoffs") as response:
            assert response.content_type == "application/json"
            body = await response.text()
            handoff = (await response.json())["handoffs"][0]
        # Shown as the literal text the customer typed (so the agent sees the attempt), never decoded HTML.
        assert handoff["thread"][1]["text"] == f"{XSS}{SCRIPT}"
        assert handoff["transcript"][0]["text"].startswith(XSS)
        assert handoff["facts"][0]["value"].startswith(f"Maria {XSS} · m***@example.com")
        assert "&lt;" not in body and CARD_NUMBER not in body  # no Slack entities; secrets redacted
        assert handoff["packet"]["slots"]["issue"] == "charged twice on [card •••• 1111]"

        async with session.get(f"{base}/inbox") as response:
            page = await response.text()
            policy = response.headers["Content-Security-Policy"]
        assert "Agent inbox" in page and '<script src="/inbox/inbox.js"></script>' in page
        assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script for an injection to join
        assert (
            "script-src 'self'" in policy
            and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        )
        assert response.headers["X-Content-Type-Options"] == "nosniff"

        async with session.get(f"{base}/inbox/inbox.js") as response:
            script = await response.text()
        assert response.content_type == "text/javascript" and "createTextNode" in script
        for sink in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ):
            assert sink not in script, sink

    asyncio.run(with_inbox(store, check))


def test_the_inbox_api_refuses_what_is_not_an_agent_action(store: CustomerStore) -> None:
    async def check(session: ClientSession, base: str, csrf: dict[str, str]) -> None:
        url = f"{base}/inbox/api/handoffs"
        async with session.post(f"{url}/1/reply", json=["not", "an", "object"], headers=csrf) as response:
            assert response.status == 400 and "JSON object" in await response.text()
        async with session.post(f"{url}/1/reply", json={"text": "  "}, headers=csrf) as response:
            assert response.status == 400 and "empty" in await response.text()
        async with session.post(f"{url}/99/claim", json={}, headers=csrf) as response:
            assert response.status == 404
        # The agent is the account logged in; a name in the body is ignored.
        async with session.post(f"{url}/1/claim", json={"agent": "Mallory"}, headers=csrf) as response:
            assert await response.json() == {"status": "claimed"}
        async with session.get(url) as response:
            assert (await response.json())["handoffs"][0]["claimed_by"] == "Alex"
        async with session.post(f"{url}/1/resolve", json={}, headers=csrf) as response:
            assert await response.json() == {"status": "resolved", "changed": True}

    asyncio.run(with_inbox(store, check))


def test_a_new_installation_says_how_to_create_the_first_agent(store: CustomerStore) -> None:
    """First run: no account exists, so the login page names the one command that makes one."""
    relay, handoffs = make_relay(store)

    async def scenario() -> None:
        async with inbox_client(relay, handoffs) as (session, base):
            async with session.get(f"{base}/inbox") as response:
                assert add_agent_command() in await response.text()
            login = {"name": "Alex", "password": "anything at all"}
            async with session.post(f"{base}/inbox/api/login", json=login) as response:
                assert response.status == 401 and (await response.json())["setup"] == add_agent_command()
            add_agent(store)
            async with session.get(f"{base}/inbox") as response:
                assert add_agent_command() not in await response.text()
            assert await login_async(session, base)

    asyncio.run(scenario())


def test_the_public_host_is_the_only_other_name_the_inbox_answers_to(store: CustomerStore) -> None:
    """Behind a reverse proxy (INBOX_PUBLIC_HOST): its name works, with its https Origin; others do not."""
    relay, handoffs = make_relay(store)
    add_agent(store)
    policy = InboxPolicy.from_settings("inbox.example.com", 12)

    async def scenario() -> None:
        login = {"name": "Alex", "password": PASSWORD}
        async with inbox_client(relay, handoffs, policy=policy) as (session, base):
            url = f"{base}/inbox/api/login"
            proxied = {"Host": "inbox.example.com", "Origin": "https://inbox.example.com"}
            async with session.post(url, json=login, headers=proxied) as response:
                assert response.status == 200
            for headers in (
                {"Host": "inbox.example.com.evil.example"},
                {"Host": "inbox.example.com", "Origin": "https://evil.example"},
            ):
                async with session.post(url, json=login, headers=headers) as response:
                    assert response.status == 403, headers

    asyncio.run(scenario())
