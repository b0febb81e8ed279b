"""Did an X delivery in doubt reach X already? Asked before sending it again.

The outbox marks an item *in doubt* when an earlier attempt may have got through (a crash
or a timeout after X accepted it; bot/outbox.py ``OutboxRecord.in_doubt``). Sending it
again blindly would DM the customer twice, so:

- **a DM** is looked up among the brand's newest DM events (``GET /2/dm_events``, the
  brand's own messages included, as on X): same participant, same text, sent after the
  item was queued. Found: delivered, nothing is sent.
- **a reply tweet** is sent again and X itself refuses a duplicate of a recent tweet of
  ours (403 "duplicate content"); for an item in doubt that refusal means the first
  attempt got through, not a dead letter.

Bounded: at most ``PAGES`` pages of 100 events are read, newest first, and reading stops
at events older than the item. An older matching DM (the same text sent to the same
customer days ago) is not mistaken for this one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import tweepy

from bot.channels.x_api import BrandId, call

logger = logging.getLogger(__name__)

PAGES = 3
CLOCK_SKEW = timedelta(seconds=60)  # our clock and X's may disagree a little
DUPLICATE = "duplicate content"


class SentDirectMessages:
    """Finds a DM the brand already sent."""

    def __init__(self, client: tweepy.Client, brand_id: BrandId) -> None:
        self.client = client
        self.brand_id = brand_id

    async def already_sent(self, participant_id: str, text: str, queued_at: datetime | None) -> bool:
        """Whether X holds a DM from us to ``participant_id`` with ``text``, sent since ``queued_at``."""
        brand = await self.brand_id()
        since = _aware(queued_at) - CLOCK_SKEW if queued_at else None
        token = None
        for _ in range(PAGES):
            page = await call(
                self.client.get_direct_message_events,
                event_types="MessageCreate",
                dm_event_fields=["created_at", "sender_id", "dm_conversation_id", "text"],
                max_results=100,
                pagination_token=token,
                user_auth=True,
            )
            for event in page.data or []:
                created = getattr(event, "created_at", None)
                if since is not None and created is not None and _aware(created) < since:
                    return False  # newest first: everything further is older than the item
                if _is_ours(event, brand, participant_id, text):
                    return True
            token = (page.meta or {}).get("next_token")
            if not token:
                return False
        logger.warning("X: no DM found in the newest %d pages; sending again", PAGES)
        return False


def _is_ours(event: Any, brand: str, participant_id: str, text: str) -> bool:
    conversation = str(getattr(event, "dm_conversation_id", "") or "")
    return (
        str(getattr(event, "sender_id", "")) == brand
        and participant_id in conversation.split("-")
        and getattr(event, "text", None) == text
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
