"""X -> the bot: Account Activity webhook signatures, the CRC answer, DM delivery payloads."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from tests.fakes.x.records import XRecords, created_ms

#: The app id X puts on DMs the brand sent (its `apps` map says which app sent them).
BRAND_APP_ID = "26000001"


def webhook_signature(secret: str, body: bytes) -> str:
    """X's webhook signature header value: `sha256=` + base64(HMAC-SHA256(consumer secret, raw body))."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def crc_response(consumer_secret: str, crc_token: str) -> str:
    """What the app must answer a CRC challenge with (`response_token`)."""
    return webhook_signature(consumer_secret, crc_token.encode())


def dm_payload(records: XRecords, event: dict[str, Any]) -> dict[str, Any]:
    """The Account Activity body for one recorded DM event (v1.1 shapes, as X still sends them)."""
    sender, recipient = event["sender_id"], event["recipient_id"]
    message_create: dict[str, Any] = {
        "target": {"recipient_id": recipient},
        "sender_id": sender,
        "message_data": {
            "text": event["text"],
            "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
        },
    }
    payload: dict[str, Any] = {
        "for_user_id": records.brand_id,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": event["id"],
                "created_timestamp": str(created_ms(event["id"])),
                "message_create": message_create,
            }
        ],
        "users": {uid: _dm_user(records, uid) for uid in (sender, recipient)},
    }
    if sender == records.brand_id:
        message_create["source_app_id"] = BRAND_APP_ID
        payload["apps"] = {BRAND_APP_ID: {"id": BRAND_APP_ID, "name": "Hearthlink Support", "url": ""}}
    return payload


def _dm_user(records: XRecords, user_id: str) -> dict[str, Any]:
    user = records.users.get(user_id) or {"name": user_id, "username": user_id}
    return {
        "id": user_id,
        "created_timestamp": "1420070400000",
        "name": user["name"],
        "screen_name": user["username"],
        "protected": False,
        "verified": False,
    }
