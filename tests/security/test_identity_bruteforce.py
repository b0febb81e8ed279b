"""Identity linking attacked through the real running bot (Rasa + action server + SMTP).

The attacker writes on the REST channel from chats of their own. They probe order numbers
and emails, guess codes, and try to get another customer's data onto their handoff card.
Each test asserts the attack fails, the answers do not tell known from unknown, and nothing
was linked. Codes are read from the mails the local SMTP server received (the victim's
inbox), never from the bot.
"""

from __future__ import annotations

import json

from bot.customers.verification import MAX_CHECKS_PER_ORDER, MAX_CHECKS_PER_SENDER
from bot.handoff.desks.base import CardState
from bot.handoff.desks.inbox.render import facts
from bot.handoff.desks.slack.card import card_blocks
from bot.handoff.store import HandoffStore
from tests.support.identity import IdentityRig, without

JAMES = "james.okafor@example.com"
MARIA = "maria.lopez@example.com"
PRIYA = "priya.shah@example.com"
JAMES_DATA = ("James", "Okafor", JAMES, "118020", "1Z999AA10123456785", "Thermostat")


def attempt(rig: IdentityRig, sender: str, number: str, email: str) -> list[str]:
    """One full guess: ask about an order, give an email, then move on (not a code)."""
    asked = rig.say(sender, f"where is my order {number}?")
    answered = rig.say(sender, email)
    moved_on = rig.say(sender, "never mind") if "6-digit code" in answered else ""
    return [without(asked, number), without(answered, number, email), moved_on]


def test_probing_order_numbers_and_emails_gets_one_answer_then_the_limit(identity_rig: IdentityRig) -> None:
    rig = identity_rig
    real = attempt(rig, "prober-real", "HL-118020", "guess@example.org")
    fake = attempt(rig, "prober-fake", "HL-555555", "guess@example.org")
    right_email = attempt(rig, "prober-lucky", "HL-118020", JAMES)  # the real pair: still the same answer
    assert real == fake == right_email
    assert "6-digit code" in real[1] and "stopped the check" in real[2]

    answers = [attempt(rig, "prober-real", f"HL-55{n:04d}", f"guess{n}@example.org") for n in range(10)]
    limited = [a for a in answers if "too many attempts" in a[1]]
    assert len(answers) - len(limited) == MAX_CHECKS_PER_SENDER - 1  # one was spent above
    assert len({json.dumps(a) for a in limited}) == 1  # the limit reads the same for every number
    limited_real = attempt(rig, "prober-real", "HL-120455", JAMES)
    assert limited_real[1] == limited[0][1]  # a real order and its real email: the same refusal
    for sender in ("prober-real", "prober-fake", "prober-lucky"):
        assert rig.linked_name(sender) is None
    assert len(rig.mailbox.wait_for(JAMES)) == 1  # only the one real pair before the limit was mailed


def test_many_chats_guessing_one_orders_email_hit_the_order_limit(identity_rig: IdentityRig) -> None:
    rig = identity_rig
    before = len(rig.mailbox.to(PRIYA))
    for n in range(MAX_CHECKS_PER_ORDER):
        assert "6-digit code" in attempt(rig, f"swarm-{n}", "HL-131337", f"priya{n}@example.org")[1]
    last = attempt(rig, "swarm-last", "HL-131337", PRIYA)  # fresh chat, right email, too late
    assert "too many attempts" in last[1]
    assert len(rig.mailbox.to(PRIYA)) == before  # nothing mailed, nothing linked
    assert rig.linked_name("swarm-last") is None


def test_a_wrong_code_never_links(identity_rig: IdentityRig) -> None:
    rig = identity_rig
    identities_before = rig.store.find_by_identity("rest", "james").identities
    mails_before = len(rig.mailbox.to(JAMES))
    assert "one-time code" in rig.say("intruder", "where is my order HL-120455?")
    assert "6-digit code" in rig.say("intruder", JAMES)  # the attacker knows the email, not the inbox
    code = rig.mailbox.code_in(rig.mailbox.wait_for(JAMES, count=mails_before + 1)[-1])
    wrong = "000000" if code != "000000" else "111111"
    assert "Tries left: 2" in rig.say("intruder", wrong)
    assert "Tries left: 1" in rig.say("intruder", wrong)
    assert "isn't right either" in rig.say("intruder", wrong)
    rig.say("intruder", "no")  # declines the offer of a person
    rig.say("intruder", "where is my order HL-120455?")
    late = rig.say("intruder", code)  # the real code, after the check ended: it is an email now
    assert "Doorbell" not in late and "linked" not in late
    assert rig.linked_name("intruder") is None
    assert rig.store.find_by_identity("rest", "james").identities == identities_before
    assert not [m for m in rig.mailbox.to(JAMES) if "linked" in str(m["Subject"])]


def test_the_owner_links_a_new_chat_with_the_code_and_is_told(identity_rig: IdentityRig) -> None:
    rig = identity_rig
    mails_before = len(rig.mailbox.to(MARIA))
    assert "one-time code" in rig.say("maria-new-phone", "where is my order HL-100982")
    rig.say("maria-new-phone", MARIA)
    code = rig.mailbox.code_in(rig.mailbox.wait_for(MARIA, count=mails_before + 1)[-1])
    answer = rig.say("maria-new-phone", code)
    assert "linked this chat to your account" in answer and "delivered" in answer
    assert rig.linked_name("maria-new-phone") == "Maria Lopez"
    notice = rig.mailbox.wait_for(MARIA, count=mails_before + 2)[-1]
    assert "linked" in str(notice["Subject"]) and "REST API" in notice.get_content()


def test_the_card_shows_none_of_another_customers_data(identity_rig: IdentityRig) -> None:
    """Maria asks about James's order, types James's email into a password reset, then hands off."""
    rig = identity_rig
    assert "I can't find order HL-118020 on the account" in rig.say("maria", "where is my order HL-118020?")
    rig.say("maria", "no")
    rig.say("maria", "I forgot my password")
    assert "If james.okafor@example.com belongs to a Hearthlink account" in rig.say("maria", JAMES)
    assert "person from our support team" in rig.say("maria", "can I speak to a human please")
    handoff = HandoffStore(rig.store).latest_for("maria")
    assert handoff is not None
    packet, state = handoff.packet, CardState(handoff_id=handoff.id, status=handoff.status)
    assert packet["customer"]["name"] == "Maria Lopez"
    assert {o["number"] for o in packet["orders"]} == {"HL-104233", "HL-100982"}
    assert not any("118020" in str(v) or "james" in str(v).lower() for v in packet["slots"].values())
    assert set(packet["unverified"]) == {"order_number", "email"}

    inbox_card = {f["label"]: f["value"] for f in facts(packet, state)}
    assert "Known" not in inbox_card or all(d not in inbox_card["Known"] for d in JAMES_DATA)
    assert inbox_card["Not verified"] == "order number, email"
    slack_card = json.dumps(card_blocks(packet, state))
    what_we_know = [b for b in card_blocks(packet, state) if "What we know" in json.dumps(b)]
    assert what_we_know and all(d not in json.dumps(what_we_know) for d in JAMES_DATA)
    for data in ("James", "Okafor", "1Z999AA10123456785", "Thermostat"):  # nothing Maria did not type
        assert data not in slack_card and data not in json.dumps(inbox_card)
