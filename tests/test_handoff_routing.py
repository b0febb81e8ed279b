"""Routing rules (bot/handoff/routing.py): each kind of rule, first match wins, the default, the
errors that name the key; and how the card and the inbox show where a handoff was routed.

Pure: no database, no Slack, no Rasa. The delivery to the team's channel is
tests/test_handoff_routing_delivery.py; the whole bot, tests/test_handoff_routing_e2e.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.handoff.desks.base import CardState, card_state
from bot.handoff.desks.inbox.render import card_text as inbox_card_text
from bot.handoff.desks.inbox.render import facts
from bot.handoff.desks.slack.card import card_blocks, card_text
from bot.handoff.routing import (
    RouteFacts,
    RoutingSettings,
    RoutingSettingsError,
    customer_facts,
    load_routing_settings,
    parse_routing_settings,
    route,
)
from tests.support.bot import write_business_file

TEAMS = {
    "billing": {"channel": "C0BILLING", "notify_group": "S0BILLING", "first_reply_minutes": 10,
                "resolution_minutes": 240},
    "vip": {"channel": "C0VIP"},
    "social": {"channel": "C0SOCIAL"},
    "tech": {"channel": "C0TECH"},
    "returns": {"channel": "C0RETURNS"},
    "night": {"channel": "C0NIGHT"},
    "fiber": {"channel": "C0FIBER"},
    "german": {"channel": "C0GERMAN"},
    "general": {},
}  # fmt: skip
RULES = [
    {"name": "vip", "team": "vip", "when": {"vip": True}},
    {"name": "night", "team": "night", "when": {"business_hours": "out"}},
    {"name": "billing", "team": "billing", "when": {"topic": ["billing_dispute", "refund"]}},
    {"name": "cancellations", "team": "billing", "when": {"topic": "cancel"}},
    {"name": "technical", "team": "tech", "when": {"topic": ["not understand"]}},
    {"name": "on X", "team": "social", "when": {"channel": ["twitter", "slack"]}},
    {"name": "returns", "team": "returns", "when": {"open_return": True}},
    {"name": "fiber", "team": "fiber", "when": {"plan": "Fiber*", "channel": "socketio"}},
    {"name": "german", "team": "german", "when": {"language": ["de", "fr"]}},
    {"name": "default", "team": "general"},
]


def settings(
    rules: list[dict[str, Any]] | None = None, teams: dict[str, Any] | None = None
) -> RoutingSettings:
    return parse_routing_settings({"teams": teams or TEAMS, "rules": rules or RULES})


def routed(**facts: Any) -> tuple[str, str]:
    found = route(settings(), RouteFacts(**{"channel": "socketio", **facts}))
    assert found is not None
    return found.team.name, found.why


# --------------------------------------------------------------------------- each kind of rule


def test_a_topic_rule_matches_the_intent_that_led_to_the_handoff() -> None:
    assert routed(intent="billing_dispute", reason="billing dispute (handled by people only)") == (
        "billing", "rule 'billing': intent billing_dispute",
    )  # fmt: skip


def test_a_topic_rule_matches_words_of_the_handoff_reason() -> None:
    assert routed(intent="human_handoff", reason="wants a Refund now") == (
        "billing", "rule 'billing': reason mentions 'refund'",
    )  # fmt: skip
    reason = "wants to cancel their Fiber service (handled by people only)"
    assert routed(intent="cancel_subscription", reason=reason) == (
        "billing", "rule 'cancellations': reason mentions 'cancel'",
    )  # fmt: skip
    # Several words: all of them must be in the reason, as words (not inside other words).
    reason = "the assistant did not understand the customer twice in a row"
    assert routed(reason=reason)[0] == "tech"
    assert routed(reason="did not get it, understand?")[0] == "tech"
    assert routed(reason="understood, not yet")[0] == "general"
    assert routed(reason="cancellation")[0] == "general"  # "cancel" is a word, not a prefix


def test_a_channel_rule_matches_the_customers_channel() -> None:
    assert routed(channel="twitter") == ("social", "rule 'on X': channel twitter")
    assert routed(channel="slack")[0] == "social"
    assert routed(channel="rest")[0] == "general"


def test_customer_attribute_rules_plan_vip_and_open_return() -> None:
    assert routed(vip=True, intent="billing_dispute") == ("vip", "rule 'vip': VIP customer")
    assert routed(open_return=True) == ("returns", "rule 'returns': has an open return")
    assert routed(plan="Fiber 1000") == ("fiber", "rule 'fiber': channel socketio, plan Fiber 1000")
    assert routed(plan="fiber 500")[0] == "fiber"  # case-insensitive, * is a wildcard
    assert routed(plan="Fiber 1000", channel="rest")[0] == "general"  # every condition must hold
    assert routed(plan="Basic 100")[0] == "general"
    assert routed(plan=None)[0] == "general"


def test_a_language_rule_matches_the_customers_language() -> None:
    assert routed(language="de") == ("german", "rule 'german': language de")
    assert routed(language="fr-CH") == (
        "german",
        "rule 'german': language fr",
    )  # a region counts as its language
    assert routed(language="en")[0] == "general"
    assert routed(language=None)[0] == "general"
    assert routed(language="de", vip=True)[0] == "vip"  # an earlier rule still wins


def test_a_business_hours_rule() -> None:
    assert routed(in_hours=False, intent="billing_dispute") == (
        "night",
        "rule 'night': outside business hours",
    )
    assert routed(in_hours=True, intent="billing_dispute")[0] == "billing"
    inside = settings([{"name": "day", "team": "tech", "when": {"business_hours": "in"}},
                       {"name": "default", "team": "general"}])  # fmt: skip
    assert route(inside, RouteFacts("socketio", in_hours=True)).why == "rule 'day': within business hours"
    assert route(inside, RouteFacts("socketio", in_hours=False)).team.name == "general"


def test_a_false_flag_matches_only_customers_without_it() -> None:
    rules = [{"name": "regulars", "team": "tech", "when": {"vip": False, "open_return": False}},
             {"name": "default", "team": "general"}]  # fmt: skip
    assert (
        route(settings(rules), RouteFacts("rest")).why
        == "rule 'regulars': not a VIP customer, no open return"
    )
    assert route(settings(rules), RouteFacts("rest", vip=True)).team.name == "general"


def test_the_first_matching_rule_wins_and_the_default_catches_the_rest() -> None:
    # VIP and billing and X all match: the VIP rule is first.
    assert routed(vip=True, channel="twitter", intent="billing_dispute")[0] == "vip"
    # Billing comes before X.
    assert routed(channel="twitter", intent="billing_dispute")[0] == "billing"
    reordered = [RULES[5], RULES[2], RULES[-1]]  # X first now
    found = route(settings(reordered), RouteFacts("twitter", intent="billing_dispute"))
    assert found.team.name == "social"
    assert routed() == ("general", "rule 'default': default")


def test_the_team_carries_its_channel_group_and_service_targets() -> None:
    team = route(settings(), RouteFacts("socketio", intent="billing_dispute")).team
    assert (team.channel, team.notify_group) == ("C0BILLING", "S0BILLING")
    assert (team.first_reply_minutes, team.resolution_minutes) == (10.0, 240.0)
    general = route(settings(), RouteFacts("socketio")).team
    assert general.channel is None and general.notify_group is None  # the handoff channel
    assert settings().slack_channels() == {t["channel"] for t in TEAMS.values() if t.get("channel")}


def test_without_a_routing_section_nothing_is_routed(tmp_path: Path) -> None:
    none = parse_routing_settings(None)
    assert not none.enabled and route(none, RouteFacts("socketio")) is None
    shipped = load_routing_settings(write_business_file(tmp_path / "business.yml"))
    assert not shipped.enabled  # business.yml ships with routing: commented out


def test_customer_facts_from_the_context_packet() -> None:
    customer = {"plan": "Fiber 1000", "preferences": {"vip": True, "language": "en"}}
    orders = [{"returns": [{"status": "refunded"}]}, {"returns": [{"status": "label_sent"}]}]
    assert customer_facts(customer, orders) == {
        "plan": "Fiber 1000", "language": "en", "vip": True, "open_return": True,
    }  # fmt: skip
    assert customer_facts(None, []) == {"plan": None, "language": None, "vip": False, "open_return": False}
    # Only a real true is VIP (a string "no" in the store must not make someone VIP).
    assert customer_facts({"preferences": {"vip": "no"}}, [{"returns": [{"status": "refunded"}]}]) == {
        "plan": None, "language": None, "vip": False, "open_return": False,
    }  # fmt: skip


# --------------------------------------------------------------------------- settings errors


def with_rules(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"teams": {"general": {}, "billing": {"channel": "C0BILLING"}}, "rules": list(rules)}


DEFAULT = {"name": "default", "team": "general"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("everyone to billing", r"'routing' must be a mapping"),
        ({"teams": {"general": {}}, "rules": [DEFAULT], "rulez": []},
         r"routing\. has unknown key\(s\) rulez"),
        ({"rules": [DEFAULT]}, r"routing\.teams must name at least one team"),
        ({"teams": {"general": {}}}, r"routing\.rules must be a list of rules, ending with a default"),
        ({"teams": {"general": {"channel": "#billing"}}, "rules": [DEFAULT]},
         r"routing\.teams\.general\.channel must be a Slack channel id like C0123ABCD .*, not '#billing'"),
        ({"teams": {"general": {"notify_group": "@billing"}}, "rules": [DEFAULT]},
         r"routing\.teams\.general\.notify_group must be a Slack user group id like S0123ABCD"),
        ({"teams": {"general": {"first_reply_minutes": "ten"}}, "rules": [DEFAULT]},
         r"routing\.teams\.general\.first_reply_minutes must be a number of minutes above 0, not 'ten'"),
        ({"teams": {"general": {"resolution_minutes": 0}}, "rules": [DEFAULT]},
         r"routing\.teams\.general\.resolution_minutes must be a number of minutes above 0"),
        ({"teams": {"general": {"chanel": "C0X"}}, "rules": [DEFAULT]},
         r"routing\.teams\.general has unknown key\(s\) chanel"),
        (with_rules({"name": "b", "team": "biling", "when": {"topic": "billing"}}, DEFAULT),
         r"routing\.rules\[0\]\.team is 'biling', not one of routing\.teams \(general, billing\)"),
        (with_rules({"team": "billing", "when": {"topic": "billing"}}, DEFAULT),
         r"routing\.rules\[0\]\.name is missing"),
        (with_rules({"name": "default", "team": "billing", "when": {"vip": True}}, DEFAULT),
         r"routing\.rules\[1\]\.name 'default' is used twice"),
        (with_rules({"name": "x", "team": "billing", "when": {"channel": "x"}}, DEFAULT),
         r"routing\.rules\[0\]\.when\.channel has unknown channel\(s\) x; known: facebook, rest, slack"),
        (with_rules({"name": "h", "team": "billing", "when": {"business_hours": "night"}}, DEFAULT),
         r"routing\.rules\[0\]\.when\.business_hours must be 'in' or 'out', not 'night'"),
        (with_rules({"name": "v", "team": "billing", "when": {"vip": "yes"}}, DEFAULT),
         r"routing\.rules\[0\]\.when\.vip must be true or false, not 'yes'"),
        (with_rules({"name": "l", "team": "billing", "when": {"lang": "de"}}, DEFAULT),
         r"routing\.rules\[0\]\.when has unknown key\(s\) lang; known: channel, topic, language, plan"),
        (with_rules({"name": "l", "team": "billing", "when": {"language": [["de"]]}}, DEFAULT),
         r"routing\.rules\[0\]\.when\.language must be a name or a list of names"),
        (with_rules({"name": "t", "team": "billing", "when": {"topic": []}}, DEFAULT),
         r"routing\.rules\[0\]\.when\.topic must be a name or a list of names"),
        (with_rules({"name": "b", "team": "billing", "when": {"topic": "billing"}}),
         r"routing\.rules needs a default last: a rule without 'when'"),
        (with_rules(DEFAULT, {"name": "b", "team": "billing", "when": {"topic": "billing"}}),
         r"routing\.rules\[0\] \('default'\) has no 'when' and matches everything, so the rules after it"),
    ],
)  # fmt: skip
def test_a_wrong_setting_names_the_key_and_the_fix(raw: Any, message: str) -> None:
    with pytest.raises(RoutingSettingsError, match=message):
        parse_routing_settings(raw)


def test_errors_name_the_file_and_point_at_the_docs(tmp_path: Path) -> None:
    path = write_business_file(tmp_path / "business.yml")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["routing"] = {"teams": {"general": {}}, "rules": [{"name": "x", "team": "nobody"}]}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(RoutingSettingsError) as error:
        load_routing_settings(path)
    assert str(path) in str(error.value) and "docs/configuration.md, 'Routing'" in str(error.value)


# --------------------------------------------------------------------------- the card and the inbox


def all_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


PACKET = {"conversation_id": "wc-1", "channel": "socketio", "reason": "billing dispute", "transcript": []}
BILLING = CardState(7, "waiting", team="billing", routing_why="rule 'billing': intent billing_dispute",
                    notify_group="S0BILLING")  # fmt: skip


def test_the_card_says_where_it_was_routed_and_why_and_mentions_the_group_only_when_new() -> None:
    new = all_text(card_blocks(PACKET, BILLING, new=True))
    assert "Routed to *billing* — rule 'billing': intent billing_dispute" in new
    assert new.count("<!subteam^S0BILLING>") == 1
    updated = all_text(card_blocks(PACKET, BILLING))  # chat.update: no second notification
    assert "Routed to *billing*" in updated and "subteam" not in updated
    assert card_text(PACKET, BILLING).startswith("Handoff for billing: ")
    assert "subteam" not in card_text(PACKET, BILLING)


def test_without_routing_the_card_is_as_before() -> None:
    plain = CardState(7, "waiting")
    assert card_blocks(PACKET, plain, new=True) == card_blocks(PACKET, plain)
    assert "Routed" not in all_text(card_blocks(PACKET, plain, new=True))
    assert card_text(PACKET, plain).startswith("Handoff: ")


def test_no_text_on_the_card_can_mention_anyone() -> None:
    """Customer text, and even a forged team name or group stored on the handoff, stays inert."""
    packet = {**PACKET, "reason": "<!subteam^S0EVIL> <!here> @channel",
              "transcript": [{"role": "customer", "text": "<!subteam^S0EVIL|@all> <!channel>"}]}  # fmt: skip
    state = CardState(7, "waiting", team="<!subteam^S0EVIL>", routing_why="<!here>", notify_group="S0EVIL|x>")
    text = all_text(card_blocks(packet, state, new=True)) + card_text(packet, state)
    assert "<!" not in text and "&lt;!subteam^S0EVIL&gt;" in text


def test_card_state_reads_the_routing_of_the_handoff() -> None:
    class Row:
        id, status, claimed_by_name, resolved_by_name, followup_message = 3, "claimed", "Alex", None, None
        team, routing_why, notify_group = "vip", "rule 'vip': VIP customer", "S0VIP"

    state = card_state(Row())
    assert (state.team, state.routing_why, state.notify_group) == ("vip", "rule 'vip': VIP customer", "S0VIP")


def test_the_inbox_shows_the_team() -> None:
    shown = {item["label"]: item["value"] for item in facts(PACKET, BILLING)}
    assert shown["Team"] == "billing — rule 'billing': intent billing_dispute"
    assert inbox_card_text(PACKET, BILLING).startswith("Handoff for billing: ")
    assert "Team" not in {item["label"] for item in facts(PACKET, CardState(7, "waiting"))}


def test_the_worker_refuses_to_start_with_a_wrong_routing_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.handoff.settings import RelaySettingsError, slack_settings

    path = write_business_file(tmp_path / "business.yml")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["routing"] = {"teams": {"billing": {"channel": "#billing"}}, "rules": [DEFAULT]}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    monkeypatch.setenv("SUPPORTBOT_BUSINESS_FILE", str(path))
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_HANDOFF_CHANNEL": "C0HANDOFF"}
    with pytest.raises(
        RelaySettingsError, match=r"routing\.teams\.billing\.channel must be a Slack channel id"
    ):
        slack_settings(env)
    document["routing"] = {"teams": {"billing": {"channel": "C0BILLING"}, "general": {}},
                           "rules": [{"name": "default", "team": "general"}]}  # fmt: skip
    fixed = tmp_path / "fixed.yml"  # settings are cached per file
    fixed.write_text(yaml.safe_dump(document), encoding="utf-8")
    monkeypatch.setenv("SUPPORTBOT_BUSINESS_FILE", str(fixed))
    assert slack_settings(env).team_channels == {"C0BILLING"}
