"""The return form on the real Rasa server and action server: it asks before it acts.

What `rasa test` cannot show (it runs no actions): the validate action's dynamic questions
(an items question only for several items, none for an order that cannot be returned),
"stop" and "no" leaving nothing returned, a fresh start after a stopped return, and a
question typed for the reason answered instead of stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bot.chat import send
from bot.customers import CustomerStore
from bot.customers.models import Customer, Identity, Order, OrderItem
from bot.processes import BotProcesses
from tests.support.bot import whole_bot

SINGLE, MULTI = "HL-150001", "HL-150002"


def delivered(number: str, days_ago: int, *items: tuple[str, int]) -> Order:
    today = date.today()
    return Order(
        number=number, status="delivered", placed_on=today - timedelta(days=days_ago + 3),
        shipped_on=today - timedelta(days=days_ago + 2), delivered_on=today - timedelta(days=days_ago),
        total_cents=sum(cents for _, cents in items), currency="USD",
        items=[OrderItem(product=product, quantity=1, unit_price_cents=cents) for product, cents in items],
    )  # fmt: skip


@pytest.fixture(scope="module")
def bot_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("return-bot")


@pytest.fixture(scope="module")
def store(bot_data: Path) -> CustomerStore:
    return CustomerStore(f"sqlite:///{bot_data / 'customers.db'}")


@pytest.fixture(scope="module")
def running_bot(trained_model: Path, bot_data: Path, store: CustomerStore) -> Iterator[BotProcesses]:
    """Rasa and the action server, with Lena (sender "lena"): a one-item and a two-item order."""
    with whole_bot(trained_model, bot_data, relay=False) as processes:
        with store.session() as session:
            lena = Customer(name="Lena Berg", email="lena@example.com", devices=[], preferences={},
                            created_at=datetime(2026, 1, 1))  # fmt: skip
            lena.identities.append(Identity(channel="rest", external_id="lena"))
            lena.orders.append(delivered(SINGLE, 3, ("Hearthlink Smart Bulb", 4900)))
            lena.orders.append(
                delivered(MULTI, 5, ("Hearthlink Cam", 8900), ("Hearthlink Doorbell Chime", 2900))
            )
            session.add(lena)
        yield processes


def texts(bot: BotProcesses, message: str, sender: str = "lena") -> str:
    replies = send(bot.webhook_url, sender, message, token=bot.tokens.rest_token)
    return "\n".join(r.get("text", "") for r in replies)


def test_stop_then_no_at_the_summary_return_nothing_and_a_fresh_start_asks_again(
    running_bot: BotProcesses, store: CustomerStore
) -> None:
    assert "Which items" in texts(running_bot, f"I want to return {MULTI}")
    assert "stopped there" in texts(running_bot, "stop")
    assert "Which items" in texts(running_bot, f"I want to return {MULTI}")  # asked afresh
    assert "Why are you sending it back" in texts(running_bot, "the chime")
    summary = texts(running_bot, '/inform{"return_reason": "faulty"}')
    assert "Hearthlink Doorbell Chime" in summary and "$29.00" in summary and "doesn't work" in summary
    assert "nothing was returned" in texts(running_bot, "no")
    assert store.find_order(MULTI).returns == ()


def test_a_one_item_order_skips_the_items_question_and_keeps_the_reason(
    running_bot: BotProcesses, store: CustomerStore
) -> None:
    assert "Why are you sending it back" in texts(running_bot, f"return {SINGLE} please")
    summary = texts(running_bot, "it flickers all the time")
    assert "Hearthlink Smart Bulb" in summary and "$49.00" in summary and "flickers" in summary
    assert "started return" in texts(running_bot, "yes")
    (opened,) = store.find_order(SINGLE).returns
    assert opened.items == ("Hearthlink Smart Bulb",) and opened.reason == "other"
    assert opened.reason_note == "it flickers all the time" and opened.refund_cents == 4900


def test_a_question_asked_for_the_reason_is_answered_and_the_reason_asked_again(
    running_bot: BotProcesses, store: CustomerStore
) -> None:
    assert "Which items" in texts(running_bot, f"I want to return {MULTI}")
    assert "Why are you sending it back" in texts(running_bot, "the cam")
    refund = texts(running_bot, "how long does the refund take?")
    assert "Your return for order" in refund or "I don't see any returns" in refund
    assert "Now, back to where we were:" in refund and refund.endswith("tell me in your own words.")
    policy = texts(running_bot, "what's your return policy?")
    assert "You can return any device within 30 days" in policy
    assert "Now, back to where we were:" in policy and "Why are you sending it back" in policy
    # a reason that is confidently a question intent (device_compatibility) but no question
    summary = texts(running_bot, "not compatible with my alexa")
    assert "Hearthlink Cam" in summary and "reason: not compatible with my alexa" in summary
    assert "nothing was returned" in texts(running_bot, "no")
    assert store.find_order(MULTI).returns == ()


def test_a_question_at_the_items_step_and_i_dont_need_it_anymore_keep_the_return_going(
    running_bot: BotProcesses, store: CustomerStore
) -> None:
    """The NLU reads "I don't need it anymore" as stop (0.89): it must not end the return."""
    assert "Which items" in texts(running_bot, f"I want to return {MULTI}")
    policy = texts(running_bot, "what's your return policy?")
    assert "You can return any device within 30 days" in policy
    assert "Now, back to where we were:" in policy and "Which items" in policy
    assert "Why are you sending it back" in texts(running_bot, "the chime")
    summary = texts(running_bot, "I don't need it anymore")
    assert "Hearthlink Doorbell Chime" in summary and "stopped there" not in summary
    assert "no longer needed" in summary  # utter_return_reason_not_needed
    assert "nothing was returned" in texts(running_bot, "no")
    assert store.find_order(MULTI).returns == ()


def test_an_order_that_cannot_be_returned_is_told_so_at_once(running_bot: BotProcesses) -> None:
    assert "still cancel it" in texts(running_bot, "I want to return HL-120455", sender="james")  # processing
    shipped = texts(running_bot, "I want to return HL-104233", sender="maria")
    assert "can't be cancelled any more" in shipped and "refuse the delivery" in shipped
    assert "can't be cancelled any more" in texts(running_bot, "can I cancel my order?", sender="maria")
