"""The saved-replies library (bot/handoff/saved_replies.py): loading, search, filling in. Pure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.business import load_business_settings
from bot.handoff.saved_replies import (
    PLACEHOLDERS,
    Library,
    SavedRepliesError,
    fill_values,
    load_saved_replies,
    parse_saved_replies,
    render,
)
from tests.support import ROOT

SHIPPED = {
    "number": "HL-104233", "status": "shipped", "carrier": "UPS", "tracking_number": "1Z999AA10123456784",
    "items": [{"product": "Hearthlink Cam Outdoor", "quantity": 1}], "returns": [],
}  # fmt: skip
DELIVERED = {
    "number": "HL-100982", "status": "delivered", "carrier": "DHL", "tracking_number": "JD014600004711",
    "items": [{"product": "Hearthlink Hub", "quantity": 1},
              {"product": "Hearthlink Smart Plug", "quantity": 2}],
    "returns": [{"id": 7, "order_number": "HL-100982", "status": "label_sent"}],
}  # fmt: skip
PROCESSING = {
    "number": "HL-120455",
    "status": "processing",
    "items": [{"product": "Doorbell", "quantity": 1}],
}


def packet(*orders: dict[str, Any], name: str | None = "Maria Lopez", **slots: Any) -> dict[str, Any]:
    customer = {"id": 1, "name": name, "email": "m@example.com", "plan": "Fiber 1000"} if name else None
    return {"customer": customer, "orders": list(orders), "slots": slots, "transcript": []}


def library(text: str = "Hi {first_name}", **extra: Any) -> Library:
    raw = {"replies": [{"id": "r", "title": "A reply", "keywords": ["word"], "text": text}], **extra}
    return parse_saved_replies(raw)


# --------------------------------------------------------------------------- the shipped file


def test_the_shipped_library_loads_and_every_reply_fills_in_for_a_demo_customer() -> None:
    shipped = load_saved_replies(ROOT / "saved_replies.yml")
    assert len(shipped.replies) >= 8
    assert {"first_name", "order_number", "tracking_link", "return_label"} <= {
        name for reply in shipped.replies for name in reply.placeholders
    }
    business = load_business_settings(ROOT / "business.yml")
    for reply in shipped.replies:
        order = DELIVERED if {"return_id", "return_label"} & set(reply.placeholders) else SHIPPED
        values, why = fill_values(packet(order), shipped, agent_name="Alex", business=business)
        rendered = render(reply, values, why)
        assert rendered.text is not None and "{" not in rendered.text, (reply.id, rendered.problems)


def test_the_default_file_and_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = tmp_path / "replies.yml"
    other.write_text(
        yaml.safe_dump({"replies": [{"id": "x", "title": "X", "text": "Hello"}]}), encoding="utf-8"
    )
    monkeypatch.setenv("SUPPORTBOT_SAVED_REPLIES_FILE", str(other))
    assert [reply.id for reply in load_saved_replies().replies] == ["x"]
    monkeypatch.setenv("SUPPORTBOT_SAVED_REPLIES_FILE", str(tmp_path / "missing.yml"))
    with pytest.raises(SavedRepliesError, match=r"SUPPORTBOT_SAVED_REPLIES_FILE=.*is not a file"):
        load_saved_replies()
    monkeypatch.delenv("SUPPORTBOT_SAVED_REPLIES_FILE")
    assert len(load_saved_replies().replies) >= 8  # saved_replies.yml next to business.yml


# --------------------------------------------------------------------------- load errors


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"replies": [{"id": "r", "title": "T", "text": "Hi {name}"}]},
         r"replies\[0\]\.text uses unknown placeholder \{name\}; known: \{first_name\}"),
        ({"replies": [{"id": "r", "title": "T", "text": "Hi {first_name!r}"}]}, r"with a format; write just"),
        ({"replies": [{"id": "r", "title": "T", "text": "Hi {first_name"}]}, r"stray brace .* write \{\{"),
        ({"replies": [{"id": "r", "title": "T", "text": "a"}, {"id": "r", "title": "U", "text": "b"}]},
         r"replies\[1\]\.id 'r' is used twice"),
        ({"replies": [{"id": "Bad Id", "title": "T", "text": "a"}]}, r"replies\[0\]\.id must be lower-case"),
        ({"replies": [{"id": "r", "text": "a"}]}, r"replies\[0\]\.title must be a title of 1 to 75"),
        ({"replies": [{"id": "r", "title": "T"}]}, r"replies\[0\]\.text must be a text"),
        ({"replies": [{"id": "r", "title": "T", "text": "a", "body": "b"}]}, r"unknown key\(s\) body"),
        ({"replies": [{"id": "r", "title": "T", "text": "a", "keywords": "one"}]},
         r"keywords must be a list"),
        ({"replies": {"r": "a"}}, r"replies must be a list"),
        ({"reply": []}, r"the file has unknown key\(s\) reply"),
        ({"replies": [], "links": {"tracking": {"UPS": "https://x/{order_number}"}}},
         r"links\.tracking\.UPS uses unknown placeholder \{order_number\}; known: \{tracking_number\}"),
        ({"replies": [], "links": {"labels": "x"}}, r"links has unknown key\(s\) labels"),
        ("just text", r"must be a mapping with 'replies'"),
    ],
)  # fmt: skip
def test_a_wrong_file_names_the_key_and_the_fix(raw: Any, message: str) -> None:
    with pytest.raises(SavedRepliesError, match=message) as caught:
        parse_saved_replies(raw, where="saved_replies.yml")
    assert str(caught.value).startswith("saved_replies.yml: ")
    if isinstance(raw, dict):
        assert str(caught.value).endswith("(docs/slack.md, 'Saved replies')")


def test_broken_yaml_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "saved_replies.yml"
    path.write_text("replies: [\n  - id: x", encoding="utf-8")
    with pytest.raises(SavedRepliesError, match="not valid YAML"):
        load_saved_replies(path)


# --------------------------------------------------------------------------- search


def test_search_matches_every_word_by_prefix_best_first() -> None:
    shipped = load_saved_replies(ROOT / "saved_replies.yml")
    assert [r.id for r in shipped.search("refund")][:2] == ["refund-timing", "return-label"]
    assert shipped.search("track")[0].id == "tracking"
    assert shipped.search("LABEL")[0].id == "return-label"  # case does not matter, a title word ranks first
    assert {r.id for r in shipped.search("fiber slow")} == {"fiber-speed", "fiber-outage"}
    assert shipped.search("fiber refund") == []  # every word must match
    assert shipped.search("closing")[0].id == "closing"
    assert [r.id for r in shipped.search("  ")] == [r.id for r in shipped.replies]  # no words: all, in order
    assert shipped.search("zzz") == []


# --------------------------------------------------------------------------- filling in


def test_the_conversations_order_fills_the_order_placeholders() -> None:
    shipped = load_saved_replies(ROOT / "saved_replies.yml")
    reply = shipped.get("tracking")
    assert reply is not None
    values, why = fill_values(packet(SHIPPED, DELIVERED, order_number="HL-104233"), shipped)
    rendered = render(reply, values, why)
    assert rendered.text == (
        "Hi Maria, your order HL-104233 is on its way with UPS. You can follow it here: "
        "https://www.ups.com/track?tracknum=1Z999AA10123456784 — the page updates as soon as the carrier "
        "scans the parcel."
    )
    # The agent's pick wins; an order that is not the customer's is not taken.
    values, _ = fill_values(
        packet(SHIPPED, DELIVERED, order_number="HL-104233"), shipped, order_number="HL-100982"
    )
    assert (values["order_number"], values["carrier"]) == ("HL-100982", "DHL")
    assert values["items"] == "Hearthlink Hub and 2 × Hearthlink Smart Plug"
    values, _ = fill_values(packet(SHIPPED), shipped, order_number="HL-999999")
    assert values["order_number"] == "HL-104233"  # the customer's only order
    assert "return_label" not in values  # HL-104233 has no open return


def test_a_missing_value_refuses_and_says_which_and_why() -> None:
    shipped = load_saved_replies(ROOT / "saved_replies.yml")
    tracking, label = shipped.get("tracking"), shipped.get("return-label")
    assert tracking is not None and label is not None
    rendered = render(tracking, *fill_values(packet(SHIPPED, DELIVERED), shipped))  # two orders, none named
    assert rendered.text is None
    assert any(
        "order number ({order_number}): no order is known" in p and "pick one" in p for p in rendered.problems
    )
    rendered = render(tracking, *fill_values(packet(PROCESSING), shipped))
    assert rendered.problems == (
        "the order's carrier ({carrier}): order HL-120455 has not shipped yet (no carrier)",
        "the tracking link ({tracking_link}): order HL-120455 has no tracking number yet",
    )
    rendered = render(label, *fill_values(packet(SHIPPED), shipped))
    assert "the return number ({return_id}): order HL-104233 has no open return" in rendered.problems
    rendered = render(tracking, *fill_values(packet(name=None), shipped))
    assert rendered.problems[0].startswith("the customer's first name ({first_name}): this customer's name")
    no_links = parse_saved_replies({"replies": [{"id": "t", "title": "T", "text": "{tracking_link}"}]})
    rendered = render(no_links.replies[0], *fill_values(packet(SHIPPED), no_links))
    assert "no tracking link for carrier 'UPS'" in rendered.problems[0]


def test_the_return_label_link_and_literal_braces() -> None:
    lib = library(
        "{{ref}} {return_id}: {return_label}",
        links={"return_label": "https://x.example/r/{return_id}?o={order_number}"},
    )
    values, why = fill_values(packet(DELIVERED), lib)
    assert (
        render(lib.replies[0], values, why).text == "{ref} R-00007: https://x.example/r/R-00007?o=HL-100982"
    )


def test_values_the_customer_wrote_are_redacted_and_never_reformatted() -> None:
    lib = library("Hi {first_name} ({plan})")
    evil = packet(name="4111111111111111 Lopez")
    evil["customer"]["plan"] = "{first_name} password: hunter2secret"
    rendered = render(lib.replies[0], *fill_values(evil, lib))
    assert rendered.text is not None
    assert "4111111111111111" not in rendered.text and "•••• 1111" in rendered.text
    assert (
        "hunter2secret" not in rendered.text and "{first_name}" in rendered.text
    )  # a value is not a template


def test_every_placeholder_is_described_for_agents() -> None:
    assert all(PLACEHOLDERS.values())
    assert set(PLACEHOLDERS) >= {"first_name", "order_number", "tracking_link", "return_label"}
