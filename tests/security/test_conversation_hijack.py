"""Cross-channel conversation takeover, tried against the real servers during a handoff.

The attack (issue 11): a victim writes to the brand on X and is handed to a person. Their
X user id is public. The attacker opens the website chat with session id = that X id
(Rasa's socketio channel let the browser choose it, and even took it from each message),
writes during the handoff, and hopes to read the agent's replies with the victim's details.

It must fail at every layer: the web chat issues its own signed session ids (so the
attacker lands in a conversation of their own), the relay forwards only the handoff's own
channel's messages, and the agent's replies (and the bot's "you're back") go out on the
handoff's channel, never on whichever channel wrote last.

Real Rasa, action server and worker (local inbox, X polling against the fake X): run under
the heavy lock. The first tests need no servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.business import load_business_settings
from bot.channels.webchat_sessions import PREFIX, is_signed, new_session_id
from bot.customers import CustomerStore
from bot.handoff.desks.inbox import InboxDesk
from bot.handoff.rasa_api import RasaAPI
from bot.handoff.relay import Relay
from bot.handoff.store import POST_THREAD, HandoffStore
from bot.outbox import OutboxItem
from bot.processes import BotProcesses
from tests.fakes.x import FakeX
from tests.support.bot import NO_SLACK, whole_bot
from tests.support.inbox import add_agent, login
from tests.support.waiting import wait_for
from tests.support.webchat import WebChatCustomer
from tests.support.x import x_env

VICTIM = "1400000000000000555"  # a public X user id
SECRET = "a-webchat-secret-for-the-unit-tests-0123456789"
AGENT_REPLY = "Hi Dana, your refund of $120 goes back to the card ending 4242 on Friday."

# --- without servers --------------------------------------------------------------------------


def test_session_ids_are_signed_unguessable_and_bound_to_the_secret() -> None:
    issued = {new_session_id(SECRET) for _ in range(200)}
    assert len(issued) == 200
    for session_id in issued:
        assert session_id.startswith(PREFIX) and is_signed(SECRET, session_id)
        assert not is_signed("another-installations-secret-0123456789", session_id)
    one = next(iter(issued))
    body, signature = one.rsplit(".", 1)
    tampered = [
        body + "." + ("A" if signature[0] != "A" else "B") + signature[1:],
        body[:-1] + ("x" if body[-1] != "x" else "y") + "." + signature,
        body,
        one[len(PREFIX) :],
        one + "x",
        one.upper(),
        VICTIM,
        "",
        None,
        42,
        PREFIX + "é." + signature,
        one + "." * 200,
    ]
    for candidate in tampered:
        assert not is_signed(SECRET, candidate), candidate


def test_the_relay_forwards_only_the_handoffs_own_channel(store: CustomerStore) -> None:
    handoffs = HandoffStore(store)
    rasa = RasaAPI("http://127.0.0.1:9")  # never reached here
    relay = Relay(handoffs, InboxDesk(handoffs), rasa, load_business_settings().handoff)
    handoffs.open_handoff(
        conversation_id=VICTIM, channel="twitter", customer_id=None, reason="asked for a person",
        packet={"conversation_id": VICTIM, "channel": "twitter", "transcript": []}, relay_after=100.0,
    )  # fmt: skip

    def event(text: str, channel: str | None, at: float) -> dict[str, Any]:
        return {"event": "user", "text": text, "timestamp": at, "input_channel": channel}

    async def scenario() -> list[bool]:
        return [
            await relay.on_rasa_event(VICTIM, event("from the web chat", "socketio", 101.0)),
            await relay.on_rasa_event(VICTIM, event("from REST", "rest", 102.0)),
            await relay.on_rasa_event(VICTIM, event("no channel", None, 103.0)),
            await relay.on_rasa_event(VICTIM, event("the customer, on X", "twitter", 104.0)),
        ]

    assert asyncio.run(scenario()) == [False, False, False, True]
    with handoffs.db.session() as session:
        rows = session.scalars(select(OutboxItem).where(OutboxItem.kind == POST_THREAD))
        queued = [row.payload.get("text") for row in rows]
    assert "the customer, on X" in queued
    assert not {"from the web chat", "from REST", "no channel"} & set(queued)


def test_agent_replies_and_the_bots_return_go_out_on_the_handoffs_channel() -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append((request.path, dict(request.query)))
        return web.json_response({"events": []})

    async def scenario() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            rasa = RasaAPI(str(server.make_url("")), token="t")
            await rasa.say(VICTIM, "Alex here", {"agent_name": "Alex"}, channel="twitter")
            await rasa.resume(VICTIM, "EXTERNAL_handoff_resolved", channel="twitter")
        finally:
            await server.close()

    asyncio.run(scenario())
    delivering = [query for path, query in seen if path.endswith(("/tracker/events", "/trigger_intent"))]
    assert [query.get("output_channel") for query in delivering if "output_channel" in query] == [
        "twitter", "twitter",
    ]  # fmt: skip
    assert all(query.get("output_channel") != "latest" for _, query in seen)


# --- against the real servers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def x() -> Iterator[FakeX]:
    with FakeX() as fake:
        fake.add_user(VICTIM, "dana_k", "Dana K")
        yield fake


@pytest.fixture(scope="module")
def bot(trained_model: Path, x: FakeX, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcesses]:
    env = {**x_env(x), "X_MODE": "polling", "X_POLL_INTERVAL": "0.5", **NO_SLACK}
    data = tmp_path_factory.mktemp("hijack-data")
    with whole_bot(trained_model, data, env) as processes:
        add_agent(CustomerStore(f"sqlite:///{data / 'customers.db'}"))
        x.wait_for(lambda: x.api_calls("dm_events"), timeout=30)  # the poller has marked "now"
        yield processes


@pytest.fixture(scope="module")
def agent(bot: BotProcesses) -> requests.Session:
    return login(bot.relay_url)


def handoffs(bot: BotProcesses, agent: requests.Session) -> list[dict[str, Any]]:
    return agent.get(f"{bot.relay_url}/inbox/api/handoffs", timeout=10).json()["handoffs"]


def thread(bot: BotProcesses, agent: requests.Session, handoff_id: int) -> list[str]:
    return [m["text"] for h in handoffs(bot, agent) if h["id"] == handoff_id for m in h["thread"]]


def act(bot: BotProcesses, agent: requests.Session, handoff_id: int, verb: str, **body: str) -> dict:
    answer = agent.post(f"{bot.relay_url}/inbox/api/handoffs/{handoff_id}/{verb}", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def events(bot: BotProcesses, conversation: str) -> list[dict[str, Any]]:
    answer = requests.get(
        f"{bot.api_url}/conversations/{conversation}/tracker", params=bot.api_params, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]


def texts(bot: BotProcesses, conversation: str, kind: str) -> list[str]:
    return [str(e.get("text") or "") for e in events(bot, conversation) if e["event"] == kind]


def dms_to(x: FakeX, user_id: str) -> list[str]:
    return [dm["text"] for dm in x.sent_dms(user_id)]


def test_the_web_chat_with_a_victims_x_id_is_another_conversation_that_never_hears_the_agent(
    bot: BotProcesses, x: FakeX, agent: requests.Session
) -> None:
    x.add_dm(VICTIM, "I want to talk to a human please")
    wait_for(lambda: any("person from our support team" in t for t in dms_to(x, VICTIM)))
    handoff = wait_for(
        lambda: next((h for h in handoffs(bot, agent) if h["conversation_id"] == VICTIM), None)
    )
    assert handoff["channel"] == "twitter"

    attacker = WebChatCustomer(bot.rasa_url, VICTIM)
    try:
        # The server did not take the id it was asked for.
        assert attacker.session_id != VICTIM and attacker.session_id.startswith(PREFIX)
        assert not attacker.resumed
        # Rasa's own handler read the conversation from each message: name the victim there too.
        attacker.sio.emit(
            "user_uttered", {"message": "ATTACKER-1 what did the agent say?", "session_id": VICTIM}
        )
        wait_for(lambda: attacker.texts())  # the bot answers: this conversation is not paused
        attacker.say("ATTACKER-2 any news on my refund?")
        wait_for(lambda: any("ATTACKER-2" in t for t in texts(bot, attacker.session_id, "user")))
        assert any("ATTACKER-1" in t for t in texts(bot, attacker.session_id, "user"))

        # The victim writes after the attacker; once that reached the thread, the attacker's would have.
        x.add_dm(VICTIM, "VICTIM-2 still waiting for someone")
        wait_for(lambda: any("VICTIM-2" in t for t in thread(bot, agent, handoff["id"])))
        assert not any("ATTACKER" in t for t in thread(bot, agent, handoff["id"]))
        assert not any("ATTACKER" in t for t in texts(bot, VICTIM, "user"))

        # The agent answers with the victim's details: it reaches the victim on X, and only there.
        assert act(bot, agent, handoff["id"], "claim")["status"] == "claimed"
        assert act(bot, agent, handoff["id"], "reply", text=AGENT_REPLY) == {"outcome": "relayed"}
        wait_for(lambda: AGENT_REPLY in dms_to(x, VICTIM))
        assert AGENT_REPLY in texts(bot, VICTIM, "bot")
        assert act(bot, agent, handoff["id"], "resolve")["status"] == "resolved"
        wait_for(lambda: any("back with the Hearthlink assistant" in t for t in dms_to(x, VICTIM)))

        heard = " ".join(attacker.texts())
        assert "4242" not in heard and "Dana" not in heard and "has joined" not in heard
        assert "back with the Hearthlink assistant" not in heard
        assert not any("4242" in t for t in texts(bot, attacker.session_id, "bot"))
        assert {dm["participant_id"] for dm in x.sent_dms()} == {VICTIM}  # nobody else was written to
    finally:
        attacker.close()


def test_a_kept_session_resumes_and_a_made_up_or_tampered_one_starts_afresh(bot: BotProcesses) -> None:
    first = WebChatCustomer(bot.rasa_url)
    try:
        first.say("hello")
        wait_for(lambda: first.texts())
    finally:
        first.close()
    said = texts(bot, first.session_id, "user")
    assert said == ["hello"]

    again = WebChatCustomer(bot.rasa_url, first.session_id)  # a page reload: the id it kept
    try:
        assert again.resumed
        again.say("me again")
        wait_for(lambda: texts(bot, first.session_id, "user") == ["hello", "me again"])
    finally:
        again.close()

    body, signature = first.session_id.rsplit(".", 1)
    forged = [
        f"{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}",  # someone else's, signature guessed
        f"{PREFIX}made-up.{signature}",
        "web-maria-1",
    ]
    for requested in forged:
        stranger = WebChatCustomer(bot.rasa_url, requested)
        try:
            assert not stranger.resumed and stranger.session_id.startswith(PREFIX)
            assert stranger.session_id not in (first.session_id, requested)
            stranger.say("STRANGER was here")
            wait_for(lambda s=stranger: s.texts())  # answered, in its own conversation
        finally:
            stranger.close()
    assert texts(bot, first.session_id, "user") == ["hello", "me again"]
    assert texts(bot, "web-maria-1", "user") == []
