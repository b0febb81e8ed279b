"""The Slack desk's card, notices and modal: complete for agents, inert for Slack, within Block Kit limits."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from bot.context import ContextPacket, ReturnSummary, TranscriptLine
from bot.customers.records import (
    ConversationRecord,
    CustomerRecord,
    IdentityRecord,
    OrderItemRecord,
    OrderRecord,
    ReturnRecord,
    to_jsonable,
)
from bot.handoff.desks import CardState
from bot.handoff.desks.slack import (
    CLAIM,
    HAND_BACK,
    RESOLVE,
    TRANSCRIPT,
    TRANSFER,
    card_blocks,
    card_text,
    customer_message_text,
    mask_email,
    status_text,
    transcript_modal,
)

T0 = datetime(2026, 11, 5, 14, 3, 27, tzinfo=timezone.utc)
CARD_NUMBER = "4111 1111 1111 1111"
PASSWORD = "Tr0ub4dor&3xyz"
INJECTION = "<!channel> hey <@U999> <http://evil.example|click> <#C123> <!subteam^S1>"
FORBIDDEN = ("<!", "<@", "<#", "<http", "<mailto")


def customer_line(minutes: int, text: str, intent: str, confidence: float) -> TranscriptLine:
    return TranscriptLine("customer", text, T0 + timedelta(minutes=minutes), intent, confidence)


def bot_line(minutes: int, text: str) -> TranscriptLine:
    return TranscriptLine("bot", text, T0 + timedelta(minutes=minutes))


def maria_packet(**changes: Any) -> dict[str, Any]:
    """A realistic packet, built the way production builds it (``ContextPacket.to_dict``)."""
    customer = CustomerRecord(
        id=1,
        name="Maria Lopez",
        email="maria.lopez@example.com",
        plan="Fiber 1000",
        devices=("Hearthlink Hub", "Hearthlink Cam Outdoor"),
        preferences={"contact": "x_dm", "language": "en"},
        identities=(
            IdentityRecord("rest", "maria"),
            IdentityRecord("twitter", "1400000000000000001", "@maria_lopez"),
        ),
    )
    orders = (
        OrderRecord(
            number="HL-104233", customer_id=1, status="shipped", placed_on=date(2026, 11, 1),
            items=(OrderItemRecord("Hearthlink Cam Outdoor", 1, 12900),), total_cents=12900, currency="GBP",
            shipped_on=date(2026, 11, 3), expected_on=date(2026, 11, 7), carrier="UPS",
            tracking_number="1Z999AA10123456784",
        ),
        OrderRecord(
            number="HL-100982", customer_id=1, status="delivered", placed_on=date(2026, 10, 20),
            items=(OrderItemRecord("Hearthlink Hub", 1, 9900),
                   OrderItemRecord("Hearthlink Smart Plug", 2, 1900)),
            total_cents=13700, currency="GBP", shipped_on=date(2026, 10, 22), delivered_on=date(2026, 10, 24),
            carrier="DHL", tracking_number="JD014600004711",
            returns=(ReturnRecord(7, "HL-100982", "refunded", date(2026, 10, 28), 1900, date(2026, 10, 30)),),
        ),
    )  # fmt: skip
    recent = (
        ConversationRecord(
            "twitter", T0 - timedelta(days=30), "Asked what speeds Fiber 1000 gives over Wi-Fi.",
            "resolved_by_bot",
        ),
        ConversationRecord(
            "rest", T0 - timedelta(days=9), "Hub would not pair; agent walked her through a reset. " * 20,
            "resolved_by_agent", "asked for a person",
        ),
    )  # fmt: skip
    transcript = (
        customer_line(0, "hi", "greet", 0.99),
        bot_line(0, "Hi Maria! How can I help?"),
        customer_line(
            1, f"where is HL-104233?? my card {CARD_NUMBER} was charged twice", "order_status", 0.93
        ),
        bot_line(1, "Order HL-104233 shipped with UPS and should arrive on 7 Nov."),
        customer_line(2, INJECTION, "complaint", 0.61),
        customer_line(3, f"@here my password is {PASSWORD} just log in and look", "account_help", 0.55),
        bot_line(3, "Please never share your password. Let me get you a person."),
        customer_line(4, "let me talk to a human & fast", "human_handoff", 0.93),
    )
    packet = ContextPacket(
        conversation_id="maria",
        channel="socketio",
        reason="the customer asked for a person",
        customer=customer,
        orders=orders,
        recent_conversations=recent,
        transcript=transcript,
        slots={"order_number": "HL-104233", "issue": f"double charge on {CARD_NUMBER}"},
    ).to_dict()
    packet["sentiment"] = {"label": "angry", "score": 0.91, "anger": 0.82}
    packet.update(changes)
    return json.loads(json.dumps(packet))  # exactly what crosses the wire


def new_customer_packet() -> dict[str, Any]:
    packet = ContextPacket(
        conversation_id="5f2c9a", channel="twitter", reason="complaint: the customer is unhappy",
        customer=None,
        transcript=(customer_line(0, "@everyone this is a scam!!! <!here>", "complaint", 0.88),),
    ).to_dict()  # fmt: skip
    return json.loads(json.dumps(packet))


# --------------------------------------------------------------------------- helpers


def text_objects(value: Any) -> list[dict[str, Any]]:
    """Every Block Kit text object (plain_text / mrkdwn) anywhere in a payload."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if value.get("type") in ("plain_text", "mrkdwn") and "text" in value:
            found.append(value)
        for item in value.values():
            found.extend(text_objects(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(text_objects(item))
    return found


def all_text(value: Any) -> str:
    return "\n".join(obj["text"] for obj in text_objects(value))


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [element for block in blocks if block["type"] == "actions" for element in block["elements"]]


def assert_inert(payload: Any) -> None:
    """No Slack control sequence survives, and every mrkdwn object opts out of auto-linking."""
    dumped = json.dumps(payload, ensure_ascii=False)
    for sequence in FORBIDDEN:
        assert sequence not in dumped, sequence
    for obj in text_objects(payload):
        assert "<" not in obj["text"] and ">" not in obj["text"], obj["text"][:200]
        assert "@here" not in obj["text"] and "@channel" not in obj["text"] and "@everyone" not in obj["text"]
        if obj["type"] == "mrkdwn":
            assert obj.get("verbatim") is True


def assert_no_secrets(payload: Any) -> None:
    dumped = json.dumps(payload, ensure_ascii=False)
    assert CARD_NUMBER not in dumped and "4111111111111111" not in dumped and "1111 1111" not in dumped
    assert PASSWORD not in dumped and "Tr0ub4dor" not in dumped


def units(text: str) -> int:
    """Length in UTF-16 code units: the strictest way Slack may count (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def assert_within_limits(blocks: list[dict[str, Any]], max_blocks: int) -> None:
    """The Block Kit limits Slack enforces by rejecting the whole message or view."""
    assert 0 < len(blocks) <= max_blocks
    for obj in text_objects(blocks):
        assert 1 <= units(obj["text"]) <= 3000
        if obj["type"] == "plain_text":
            assert obj.get("emoji") is True
    for block in blocks:
        assert len(block.get("block_id", "")) <= 255
        kind = block["type"]
        if kind == "header":
            assert block["text"]["type"] == "plain_text" and units(block["text"]["text"]) <= 150
        elif kind == "section":
            assert "text" in block or "fields" in block
            fields = block.get("fields", [])
            assert len(fields) <= 10
            assert all(units(field["text"]) <= 2000 for field in fields)
        elif kind == "context":
            assert 1 <= len(block["elements"]) <= 10
        elif kind == "actions":
            assert 1 <= len(block["elements"]) <= 25
            for button in block["elements"]:
                assert button["type"] == "button" and units(button["text"]["text"]) <= 75
                assert len(button["action_id"]) <= 255 and len(button["value"]) <= 2000
                confirm = button.get("confirm")
                if confirm:
                    assert len(confirm["title"]["text"]) <= 100 and len(confirm["text"]["text"]) <= 300
                    assert len(confirm["confirm"]["text"]) <= 30 and len(confirm["deny"]["text"]) <= 30
        else:
            assert kind == "divider", kind


# --------------------------------------------------------------------------- the card


def test_card_shows_everything_an_agent_needs() -> None:
    blocks = card_blocks(maria_packet(), CardState(handoff_id=42, status="waiting"))
    text = all_text(blocks)

    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == ":raising_hand: Customer needs a person — Maria Lopez"
    assert "*Waiting for an agent*" in text
    fields = next(block["fields"] for block in blocks if "fields" in block)
    assert [field["text"].split("\n")[0] for field in fields] == [
        "*Customer*", "*Channel*", "*Identities*", "*Reason*", "*Sentiment*", "*Conversation*",
    ]  # fmt: skip
    assert "Maria Lopez (#1)" in fields[0]["text"] and "m•••@example.com · Fiber 1000" in fields[0]["text"]
    assert "maria.lopez@" not in json.dumps(blocks)  # the email is masked everywhere, slots included
    assert fields[1]["text"] == "*Channel*\nWebsite chat"
    assert "X: @maria_lopez · https://x.com/maria_lopez" in fields[2]["text"]
    assert fields[3]["text"] == "*Reason*\nthe customer asked for a person"
    assert fields[4]["text"] == "*Sentiment*\n:rage: Angry · anger 0.82"
    assert fields[5]["text"] == "*Conversation*\nmaria"

    assert "*Last messages* (8 of 8, times UTC)" in text
    assert "`14:03` *Customer:* hi  `greet 0.99`" in text
    assert "`14:03` _Bot:_ Hi Maria! How can I help?" in text
    assert "`14:07` *Customer:* let me talk to a human &amp; fast  `human_handoff 0.93`" in text
    assert "*Detected intents:* greet 0.99 → order_status 0.93 → complaint 0.61" in text
    assert "*What we know*\n• Order number: HL-104233\n• Issue: double charge on" in text

    assert "*HL-104233* · Shipped · Hearthlink Cam Outdoor · £129.00" in text
    assert "expected 7 Nov 2026 · UPS 1Z999AA10123456784" in text
    assert "*HL-100982* · Delivered · Hearthlink Hub, 2 × Hearthlink Smart Plug · £137.00" in text
    assert "delivered 24 Oct 2026 · DHL JD014600004711 · return refunded £19.00 on 30 Oct 2026" in text

    assert "*Recent conversations*" in text
    assert "6 Oct 2026 · X (Twitter) DM · Resolved by bot — Asked what speeds" in text
    assert "27 Oct 2026 · REST API · Resolved by agent (handoff: asked for a person) — Hub would" in text
    recent = next(
        block["text"]["text"]
        for block in blocks
        if "Recent conversations" in block.get("text", {}).get("text", "")
    )
    assert max(len(line) for line in recent.split("\n")) < 400  # long summaries are truncated

    assert blocks[-1]["type"] == "actions"
    assert_within_limits(blocks, 50)


def test_customer_text_cannot_mention_link_or_leak_secrets() -> None:
    packet = maria_packet()
    for status in ("waiting", "claimed", "resolved", "timed_out", "after_hours"):
        state = CardState(
            42, status, claimed_by="<!channel> Alex", resolved_by="Alex", note="<@U1> took too long"
        )
        payload = {
            "blocks": card_blocks(packet, state, transcript_lines=50),
            "text": card_text(packet, state),
            "view": transcript_modal(packet),
        }
        assert_inert(payload)
        assert_no_secrets(payload)
    # The injection is still readable to the agent, just inert.
    shown = all_text(card_blocks(packet, CardState(42, "waiting")))
    assert "&lt;!channel&gt; hey &lt;@U999&gt;" in shown.replace("\u200b", "").replace("\u2060", "")


def return_packet(**summary: Any) -> dict[str, Any]:
    """Maria's packet with a latest return (the JSON ``ContextPacket.to_dict`` stores)."""
    items = (OrderItemRecord("Hearthlink Hub", 1, 9900), OrderItemRecord("Hearthlink Smart Plug", 2, 1900))
    fields = {"order_number": "HL-100982", "state": "label_sent", "created_on": date(2026, 10, 28),
              "items": items, "reason": "faulty"}  # fmt: skip
    return maria_packet(
        latest_return=json.loads(json.dumps(to_jsonable(ReturnSummary(**{**fields, **summary}))))
    )


def return_line(packet: dict[str, Any]) -> str:
    (line,) = [line for line in all_text(card_blocks(packet, CardState(42, "waiting"))).split("\n")
               if "return:*" in line or "set up:*" in line]  # fmt: skip
    return line


def test_card_shows_the_latest_returns_items_and_reason() -> None:
    assert return_line(return_packet()) == (
        ":leftwards_arrow_with_hook: *Latest return:* *HL-100982* · Hearthlink Hub, 2 × Hearthlink Smart Plug"
        " · Label sent (opened 28 Oct 2026) · reason: doesn't work / damaged"
    )
    own_words = return_packet(items=(OrderItemRecord("Hearthlink Smart Plug", 2, 1900),), reason="other",
                              reason_note="they buzz at night", state="refunded")  # fmt: skip
    assert return_line(own_words) == (
        ":leftwards_arrow_with_hook: *Latest return:* *HL-100982* · 2 × Hearthlink Smart Plug"
        " · Refunded (opened 28 Oct 2026) · reason: “they buzz at night”"
    )
    mid_form = return_packet(state="not_confirmed", created_on=None, items=(), reason=None)
    assert return_line(mid_form) == (
        ":leftwards_arrow_with_hook: *Return being set up:* *HL-100982* · items not chosen yet"
        " · not confirmed yet, nothing returned · reason: not given yet"
    )
    assert not any(
        "return:*" in t for t in all_text(card_blocks(maria_packet(), CardState(1, "waiting"))).split("\n")
    )
    assert_within_limits(card_blocks(return_packet(), CardState(42, "waiting")), 50)


@pytest.mark.parametrize(
    ("attack", "shown"),
    [
        ("<!channel> refund me now", "&lt;!channel&gt; refund me now"),
        ("see <https://evil.example|click here>", "see &lt;https://evil.example|click here&gt;"),
        ("@here <@U999> <#C123>", "@\u2060here &lt;@U999&gt; &lt;#C123&gt;"),
    ],
)
def test_a_return_reason_cannot_mention_or_link(attack: str, shown: str) -> None:
    """The reason is the customer's own words: escaped (and redacted) like every customer text."""
    packet = return_packet(reason="other", reason_note=f"{attack} & card {CARD_NUMBER}")
    blocks = card_blocks(packet, CardState(42, "waiting"))
    assert_inert(blocks)
    assert_no_secrets(blocks)
    line = return_line(packet)
    assert f"reason: “{shown} &amp; card [card •••• 1111]”" in line
    # a product name is our own data, still escaped; a long reason is cut to a short line
    packet = return_packet(
        reason_note="<!here> " + "x" * 5_000, items=(OrderItemRecord("<@U1> Hub", 1, 9900),)
    )
    blocks = card_blocks(packet, CardState(42, "waiting"))
    assert_inert(blocks)
    assert_within_limits(blocks, 50)
    assert "&lt;@U1&gt; Hub" in return_line(packet) and len(return_line(packet)) < 500


def test_buttons_follow_the_handoff_state() -> None:
    packet = maria_packet()

    waiting = buttons(card_blocks(packet, CardState(42, "waiting")))
    assert [b["action_id"] for b in waiting] == [CLAIM, TRANSFER, RESOLVE, TRANSCRIPT]
    assert (CLAIM, RESOLVE, TRANSCRIPT) == ("handoff_claim", "handoff_resolve", "handoff_transcript")
    assert {b["value"] for b in waiting} == {"42"}
    assert waiting[0]["style"] == "primary" and waiting[0]["text"]["text"] == "Claim"
    assert waiting[1]["text"]["text"] == "Transfer / assign…"
    assert waiting[2]["text"]["text"] == "Resolve — hand back to bot"
    assert waiting[2]["confirm"]["confirm"]["text"] == "Resolve"
    assert waiting[3]["text"]["text"] == "Full transcript"

    claimed_blocks = card_blocks(packet, CardState(42, "claimed", claimed_by="Alex Kim"))
    claimed = buttons(claimed_blocks)
    assert [b["action_id"] for b in claimed] == [CLAIM, HAND_BACK, TRANSFER, RESOLVE, TRANSCRIPT]
    assert [b["text"]["text"] for b in claimed[:2]] == ["Take over", "Hand back to queue"]
    assert "*Claimed by Alex Kim*" in all_text(claimed_blocks)
    assert "· handoff #42" in all_text(claimed_blocks)  # the number /saved-reply takes

    moved = card_blocks(packet, CardState(42, "waiting", team="billing", moved_to="tech"))
    assert [b["action_id"] for b in buttons(moved)] == [TRANSCRIPT]  # the old card after a transfer
    assert "*Transferred to tech*" in all_text(moved)

    resolved_blocks = card_blocks(packet, CardState(42, "resolved", claimed_by="Alex Kim", resolved_by="Sam"))
    assert [b["action_id"] for b in buttons(resolved_blocks)] == [TRANSCRIPT]
    assert "*Resolved — back with the bot* by Sam" in all_text(resolved_blocks)

    note = "No one claimed within 5 min — the bot offered to take a message"
    timed_out = card_blocks(packet, CardState(7, "timed_out", note=note))
    assert [b["action_id"] for b in buttons(timed_out)] == [CLAIM, TRANSCRIPT]
    assert {b["value"] for b in buttons(timed_out)} == {"7"}
    assert "*Timed out*" in all_text(timed_out) and f"_{note}_" in all_text(timed_out)
    assert "*After hours*" in all_text(card_blocks(packet, CardState(7, "after_hours")))

    with pytest.raises(ValueError, match="unknown handoff status"):
        CardState(1, "open")


def test_huge_conversation_stays_within_block_kit_limits() -> None:
    # ~10,000 chars that grow when escaped, with emoji (two UTF-16 units each) at every cut point.
    monster = "x" * 8_000 + " <@U1> & <!here> 😡" * 110
    transcript = [
        {"role": "customer" if i % 2 == 0 else "bot", "text": f"{i}: {monster}", "timestamp": None,
         "intent": "complaint" if i % 2 == 0 else None, "confidence": 0.5, "entities": []}
        for i in range(200)
    ]  # fmt: skip
    orders = maria_packet()["orders"] * 6
    packet = maria_packet(
        transcript=transcript,
        orders=orders,
        slots={f"slot_{i}": monster for i in range(30)},
        detected_intents=[{"intent": "complaint", "confidence": 0.5}] * 100,
        reason=monster,
        conversation_id=monster,
    )
    packet["customer"]["name"] = monster
    packet["customer"]["devices"] = [monster] * 20

    for lines in (8, 200, 10_000):
        blocks = card_blocks(packet, CardState(42, "waiting"), transcript_lines=lines)
        assert_within_limits(blocks, 50)
        assert_inert(blocks)
        assert blocks[-1]["type"] == "actions"  # the buttons are never what gets cut
        text = all_text(blocks)
        shown = [int(n) for n in re.findall(r"(?:\*Customer:\*|_Bot:_) (\d+): x", text)]
        assert shown == list(range(200 - len(shown), 200))  # the latest lines, whole and in order
        assert len(shown) == min(lines, 200)  # 200 truncated lines still fit in 50 blocks
        rest = " — _Full transcript_ has the rest" if len(shown) < 200 else ""
        assert f"*Last messages* ({len(shown)} of 200, times UTC){rest}\n" in text
    assert "…and 7 more orders" in text and "more slots" in text
    assert len(card_text(packet, CardState(42, "waiting"))) <= 400

    longer = {**packet, "transcript": packet["transcript"] * 3}  # 600 lines: the card must leave some out
    text = all_text(card_blocks(longer, CardState(42, "waiting"), transcript_lines=600))
    kept = len(re.findall(r"(?:\*Customer:\*|_Bot:_) \d+: x", text))
    assert (
        8 < kept < 600
        and f"*Last messages* ({kept} of 600, times UTC) — _Full transcript_ has the rest" in text
    )

    view = transcript_modal(packet)
    assert_within_limits(view["blocks"], 100)
    assert_inert(view)
    view_text = all_text(view["blocks"])
    assert "earlier lines omitted" in view_text and "199: xxx" in view_text
    shown = [int(n) for n in re.findall(r"(?:\*Customer:\*|_Bot:_) (\d+): x", view_text)]
    assert shown == list(range(shown[0], 200)) and shown[0] > 0  # the latest lines, whole and in order
    assert f"{shown[0]} earlier lines omitted" in view_text


def test_new_customer_without_store_record() -> None:
    packet = new_customer_packet()
    packet.pop("sentiment", None)  # packets from before sentiment analysis have no such key
    assert packet["customer"] is None
    blocks = card_blocks(packet, CardState(3, "waiting"))
    text = all_text(blocks)

    assert blocks[0]["text"]["text"] == ":raising_hand: Customer needs a person — New customer"
    fields = next(block["fields"] for block in blocks if "fields" in block)
    assert fields[0]["text"] == "*Customer*\nNew customer — not in our records"
    assert fields[1]["text"] == "*Channel*\nX (Twitter) DM"
    assert "*Identities*" not in text and "*Sentiment*" not in text
    assert "*Orders*" not in text and "*Recent conversations*" not in text and "*What we know*" not in text
    assert "*Last messages* (1 of 1, times UTC)" in text and "`complaint 0.88`" in text
    assert_within_limits(blocks, 50)
    assert_inert({"blocks": blocks, "text": card_text(packet, CardState(3, "waiting"))})
    assert card_text(packet, CardState(3, "waiting")) == (
        "Handoff: a new customer on X (Twitter) DM — complaint: the customer is unhappy"
    )

    bare = {"conversation_id": "x", "channel": "whatsapp-business", "reason": "", "customer": None}
    blocks = card_blocks(bare, CardState(4, "waiting"))  # a minimal packet degrades, never crashes
    assert "_No messages yet._" in all_text(blocks) and "whatsapp-business" in all_text(blocks)
    assert "*Sentiment*" not in all_text(card_blocks({**bare, "sentiment": None}, CardState(4, "waiting")))
    assert_within_limits(blocks, 50)


def test_transcript_modal_structure() -> None:
    packet = maria_packet()
    view = transcript_modal(packet)

    assert view["type"] == "modal"
    assert view["title"] == {"type": "plain_text", "text": "Full transcript", "emoji": True}
    assert view["close"]["type"] == "plain_text" and view["close"]["text"] == "Close"
    assert len(view["title"]["text"]) <= 24 and "submit" not in view
    assert_within_limits(view["blocks"], 100)
    text = all_text(view["blocks"])
    assert "Maria Lopez · Website chat · conversation maria · 8 messages · times UTC" in text
    assert text.count("*Customer:*") == 5 and text.count("_Bot:_") == 3
    assert "omitted" not in text
    assert_inert(view)
    assert_no_secrets(view)

    later = [
        *packet["transcript"],
        {"role": "agent", "text": "Hi, Alex here", "timestamp": "2026-11-05T14:09:00+00:00"},
    ]
    view = transcript_modal(packet, later)
    assert "`14:09` *Agent:* Hi, Alex here" in all_text(view["blocks"])
    assert "_No messages yet._" in all_text(transcript_modal(packet, [])["blocks"])
    bare = transcript_modal({"transcript": []})  # the relay's fallback when the handoff is gone
    assert bare["type"] == "modal" and "_No messages yet._" in all_text(bare["blocks"])
    assert_within_limits(bare["blocks"], 100)


def test_thread_texts_are_escaped_and_redacted() -> None:
    state = CardState(42, "waiting")
    assert (
        card_text(maria_packet(), state)
        == "Handoff: Maria Lopez on Website chat — the customer asked for a person"
    )
    claimed = card_text(maria_packet(), CardState(42, "claimed", claimed_by="Alex"))
    assert claimed.startswith("Handoff claimed by Alex: Maria Lopez")

    message = customer_message_text(f"{INJECTION} also {CARD_NUMBER} and @channel")
    assert message.startswith(":speech_balloon: *Customer:* ")
    assert not any(sequence in message for sequence in FORBIDDEN) and "<" not in message
    assert "@channel" not in message and CARD_NUMBER not in message
    assert len(customer_message_text("a" * 10_000)) <= 3000

    assert status_text("claimed", agent="Alex") == ":technologist: Claimed by Alex"
    assert status_text("resolved", agent="Alex") == ":white_check_mark: Resolved by Alex — the bot is back"
    failed = status_text("delivery_failed", error=f"HTTP 500 <!channel> {CARD_NUMBER}")
    assert failed.startswith(":warning: Delivery to the customer failed: HTTP 500")
    assert "<" not in failed and CARD_NUMBER not in failed
    assert "Internal notes start with // and are not sent" in status_text("notes_hint")
    assert "Internal notes start with ## and are not sent" in status_text("how_to", prefix="##")
    followup = status_text("followup", text=f"call me back @channel, card {CARD_NUMBER} <http://x.example>")
    assert followup.startswith(":envelope_with_arrow: *The customer left a message:* call me back @")
    assert "@channel" not in followup
    assert "<" not in followup and CARD_NUMBER not in followup
    assert status_text("not_sent_resolved").startswith(":no_entry_sign: Not sent")
    assert "within 5 min" in status_text("timed_out", minutes=5)
    assert status_text("claimed", agent="<@U1>") == ":technologist: Claimed by &lt;@U1&gt;"
    with pytest.raises(ValueError, match="unknown status kind"):
        status_text("exploded")


def test_emails_are_masked_without_mrkdwn_markup() -> None:
    # "*" would be bold in mrkdwn, so the Slack desk masks with bullets; the rest is bot.formatting's.
    assert mask_email("maria.lopez@example.com") == "m•••@example.com"
    assert mask_email("not-an-email") == "•••"
    assert mask_email("<!channel>@evil.example") == "&lt;•••@evil.example"


def test_unverified_facts_are_named_never_shown() -> None:
    """Typed values not verified as this customer's (another's order, an email) appear by name only."""
    from bot.handoff.desks.inbox.render import facts

    packet = maria_packet()
    packet["slots"] = {"device_model": "Hearthlink Hub"}
    packet["unverified"] = ["order_number", "email"]
    text = all_text(card_blocks(packet, CardState(5, "waiting")))
    assert "• Device model: Hearthlink Hub" in text
    assert "Not verified as this customer's (not shown):_ Order number, Email" in text
    inbox = {item["label"]: item["value"] for item in facts(packet, CardState(5, "waiting"))}
    assert inbox["Known"] == "device model: Hearthlink Hub" and inbox["Not verified"] == "order number, email"


def test_card_shows_the_language_the_customer_writes_in() -> None:
    packet = maria_packet()
    packet["slots"] = {**(packet.get("slots") or {}), "language": "es"}
    blocks = card_blocks(packet, CardState(42, "waiting"))
    fields = next(block["fields"] for block in blocks if "fields" in block)
    assert "*Language*\nSpanish (es)" in [field["text"] for field in fields]
    packet["slots"]["language"] = "<!channel> *x*"  # a slot is only ever a detector's code, but still
    shown = json.dumps(card_blocks(packet, CardState(42, "waiting")))
    assert "<!channel>" not in shown
