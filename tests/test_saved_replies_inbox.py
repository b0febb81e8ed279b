"""Saved replies in the local inbox: previews, Send once, and the inbox's guard (real routes, real DB)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import ClientSession

from bot.context import build_context_packet
from bot.customers import CustomerStore
from bot.handoff.desks.inbox.guard import CSRF_HEADER
from tests.support.inbox import add_agent, login_async
from tests.test_handoff_inbox import deliver_desk_items, inbox_client, make_relay
from tests.test_saved_replies_slack import said


def test_the_inbox_previews_and_sends_a_saved_reply_once(store: CustomerStore) -> None:
    relay, handoffs = make_relay(store)
    add_agent(store)
    packet = build_context_packet(
        conversation_id="maria", channel="rest", events=[], slots={"order_number": "HL-104233"},
        reason="asked for a person", store=store,
    ).to_dict()  # fmt: skip
    record, _ = handoffs.open_handoff(
        conversation_id="maria",
        channel="rest",
        customer_id=None,
        reason="asked",
        packet=packet,
        relay_after=0.0,
    )

    async def scenario() -> dict[str, Any]:
        await deliver_desk_items(relay, handoffs)
        async with inbox_client(relay, handoffs) as (session, base):
            url = f"{base}/inbox/api/handoffs/{record.id}"
            async with ClientSession() as stranger, stranger.get(f"{url}/saved-replies") as response:
                assert response.status == 401  # not logged in
            csrf = await login_async(session, base)
            async with session.get(f"{url}/saved-replies", params={"q": "track"}) as response:
                previews = await response.json()
            async with session.get(f"{url}/saved-replies", params={"q": "return label"}) as response:
                label = (await response.json())["replies"][0]
            send = {"reply": "tracking", "nonce": "preview-0001"}
            async with session.post(f"{url}/saved-reply", json=send) as response:
                assert response.status == 403  # no CSRF token: nothing sent
            answers = []
            for _ in range(2):  # a double click: the same preview's nonce
                async with session.post(f"{url}/saved-reply", json=send, headers=csrf) as response:
                    answers.append((response.status, (await response.json())["outcome"]))
            missing = {"reply": "return-label", "nonce": "preview-0002"}
            async with session.post(f"{url}/saved-reply", json=missing, headers=csrf) as response:
                refused = (response.status, await response.json())
            assert CSRF_HEADER in csrf
        await deliver_desk_items(relay, handoffs)
        return {"previews": previews, "label": label, "answers": answers, "refused": refused}

    result = asyncio.run(scenario())
    first = result["previews"]["replies"][0]
    assert first["id"] == "tracking" and first["text"].startswith(
        "Hi Maria, your order HL-104233 is on its way"
    )
    assert result["previews"]["orders"] == ["HL-104233", "HL-100982"]
    assert result["label"]["text"] is None and "has no open return" in result["label"]["problems"][0]
    assert result["answers"] == [(200, "relayed"), (200, "duplicate")]
    assert result["refused"][0] == 409 and result["refused"][1]["outcome"] == "missing-values"
    [sent] = said(store)
    assert sent["text"] == first["text"] and sent["agent_name"] == "Alex"
    thread = handoffs.desk_thread(str(handoffs.get(record.id).card_ts))
    assert sum("sent the saved reply" in line["text"] for line in thread) == 1
