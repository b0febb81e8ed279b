"""Forging an X event through the CRC "signing oracle", against the real running bot.

The attack: X signs a delivery with base64(HMAC-SHA256(consumer secret, body)), and the CRC
challenge is answered with base64(HMAC-SHA256(consumer secret, crc_token)). If the bot
answers any token, ``GET /webhooks/twitter/webhook?crc_token=<a JSON body>`` hands a
stranger the signature of that body, and POSTing it makes the bot act on an event nobody
sent: a DM "from" a victim's X account, answered with the victim's orders. Each test
checks the attack fails and that nothing was handled, queued, recorded or answered.
"""

from __future__ import annotations

import base64
import json

import requests

from bot.channels.x_api import POLLED_SIGNATURE_HEADER
from bot.processes import BotProcesses
from tests.fakes.server import compact
from tests.fakes.x import FakeX
from tests.support.x import MARIA, dms_to, tracker_texts, undelivered, webhook_url, x_store

FORGED_EVENT = "1990000000000000001"


def forged_payload(x: FakeX) -> dict:
    """A DM "from" Maria (a demo customer with orders), as X's Account Activity shapes it."""
    create = {"sender_id": MARIA, "message_data": {"text": "where is my order?"}}
    event = {"type": "message_create", "id": FORGED_EVENT, "message_create": create}
    return {"for_user_id": x.brand_id, "direct_message_events": [event]}


def state(bot: BotProcesses, x: FakeX) -> tuple:
    """What a handled forgery would change: seen events, the outbox, X's DMs, the tracker."""
    return (
        x_store(bot).seen(f"dm:{FORGED_EVENT}"),
        undelivered(bot, MARIA),
        dms_to(x, MARIA),
        tracker_texts(bot, MARIA),
    )


def test_the_crc_endpoint_signs_no_json_body_so_a_forged_event_is_refused(
    x_webhook_bot: tuple[BotProcesses, FakeX],
) -> None:
    bot, x = x_webhook_bot
    url = webhook_url(bot)
    status, answer = x.crc_check(url)  # X's own check still passes
    assert status == 200 and answer == {"response_token": x.expected_crc_response(x.last_crc_token)}
    before = state(bot, x)
    payload = forged_payload(x)
    for body in (compact(payload), json.dumps(payload).encode(), json.dumps(payload, indent=1).encode()):
        oracle = requests.get(url, params={"crc_token": body.decode()}, timeout=10)
        assert oracle.status_code == 400 and "response_token" not in oracle.json()
        stolen = oracle.json().get("response_token", "")
        forged = requests.post(
            url, data=body, headers={"Content-Type": "application/json",
                                     "x-twitter-webhooks-signature": stolen}, timeout=30,
        )  # fmt: skip
        assert forged.status_code == 401
        # A token the endpoint does sign (the body in base64, cut to the 256 allowed) signs
        # only that token...
        wrapped = base64.b64encode(body).decode()[:256]
        signed = requests.get(url, params={"crc_token": wrapped}, timeout=10)
        assert signed.status_code == 200
        token_signature = signed.json()["response_token"]
        headers = {"Content-Type": "application/json", "x-twitter-webhooks-signature": token_signature}
        assert requests.post(url, data=body, headers=headers, timeout=30).status_code == 401
        # ...and that token, posted as the body its signature fits, is no event at all.
        assert requests.post(url, data=wrapped.encode(), headers=headers, timeout=30).status_code == 400
    assert state(bot, x) == before
    assert state(bot, x)[0] is False


def test_in_polling_mode_the_webhook_routes_do_not_exist_and_the_polled_route_wants_our_key(
    x_polling_bot: BotProcesses, fake_x: FakeX
) -> None:
    bot, x = x_polling_bot, fake_x
    url = webhook_url(bot)
    before = state(bot, x)
    assert requests.get(url, params={"crc_token": "Tzg0NjQ3MjA5NzY5NTk0MTA1"}, timeout=10).status_code == 404
    body = compact(forged_payload(x))
    signed_as_x = {"Content-Type": "application/json", "x-twitter-webhooks-signature": x.sign(body)}
    assert requests.post(url, data=body, headers=signed_as_x, timeout=30).status_code == 404
    # The worker's route takes only our own key: the consumer secret (shared with X, and what
    # a CRC answer used to be) signs nothing here, under either header.
    polled = f"{bot.rasa_url}/webhooks/twitter/polled"
    for header in ("x-twitter-webhooks-signature", POLLED_SIGNATURE_HEADER):
        headers = {"Content-Type": "application/json", header: x.sign(body)}
        assert requests.post(polled, data=body, headers=headers, timeout=30).status_code == 401
    assert (
        requests.post(polled, data=body, headers={"Content-Type": "application/json"}, timeout=30).status_code
        == 401
    )
    assert state(bot, x) == before
    assert state(bot, x)[0] is False
