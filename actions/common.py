"""What every custom action shares: finding the customer, and never crashing a chat.

``SupportAction`` wraps ``run``: a database outage becomes an honest "I can't look that
up right now" plus the offer of a person; any other bug is logged with its traceback
and the customer gets a polite "couldn't handle that" — never a stack trace.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from datetime import date
from functools import lru_cache
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from bot import formatting
from bot.business import BusinessSettings, load_business_settings
from bot.customers import CustomerRecord, CustomerStore
from bot.db import run_sync
from bot.formatting import format_money as format_money  # re-exported for the actions
from bot.migrations import SchemaNotCurrent, require_current
from bot.settings import customer_database_url

logger = logging.getLogger(__name__)

DEFAULT_CHANNEL = "rest"


@lru_cache(maxsize=4)
def _store_for(url: str) -> CustomerStore:
    store = CustomerStore(url)
    try:
        require_current(url)
    except SchemaNotCurrent as exc:  # calls fail on missing tables and are answered politely
        logger.error("customer store: %s", exc)
    except SQLAlchemyError:
        # Unreachable now; the calls will fail and be answered politely. Not cached as
        # broken: the engine reconnects once the database is back.
        logger.warning("customer store %s unreachable at start-up", url.split("@")[-1])
    return store


def customer_store() -> CustomerStore:
    """The store at ``SUPPORTBOT_DATABASE_URL`` (read on each call, so tests can switch it)."""
    return _store_for(customer_database_url())


def business() -> BusinessSettings:
    return load_business_settings()


def channel_of(tracker: Tracker) -> str:
    """The Rasa input channel the customer is writing from (``rest`` if unknown)."""
    return tracker.get_latest_input_channel() or DEFAULT_CHANNEL


async def identify(tracker: Tracker) -> CustomerRecord:
    """The customer behind this conversation; a new, nameless record for a first-time sender."""
    return await run_sync(customer_store().get_or_create_by_identity, channel_of(tracker), tracker.sender_id)


def mask_email(email: str | None) -> str:
    """``m***@example.com`` (see :func:`bot.formatting.mask_email`), or a phrase that reads in a reply."""
    return formatting.mask_email(email, missing=business().wording.email_on_account)


def format_day(day: date | None) -> str:
    """``Thu 5 Nov`` (see :func:`bot.formatting.format_day`); business.yml's word when not known yet."""
    return formatting.format_day(day, missing=business().wording.date_not_yet)


class SupportAction(Action, ABC):
    """Base for our actions: subclasses implement ``act``; failures never reach the customer.

    Abstract, so rasa-sdk's executor does not try to register the base itself.
    """

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]: ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        try:
            return await self.act(dispatcher, tracker, domain)
        except SQLAlchemyError:
            logger.exception("%s: customer store unavailable", self.name())
            dispatcher.utter_message(response="utter_store_unavailable")
            return [FollowupAction("utter_offer_human")]
        except Exception:
            logger.exception("%s failed for sender %s", self.name(), tracker.sender_id)
            dispatcher.utter_message(response="utter_default")
            return []
