"""Which team gets a handoff, and why: business.yml ``routing:`` and a pure first-match matcher.

A support team of ten works in several Slack channels (billing, tech, a VIP desk, the night
shift), not one. The support lead writes the rules in business.yml; the action server asks
:func:`route` once, when it opens the handoff, and stores the team, the channel and the "why"
on the handoff (bot/handoff/store.py), so the card, the inbox and the expected wait all agree
on it later. Without a ``routing:`` section :func:`route` returns None and every handoff goes
to the one handoff channel, as before.

The matcher is pure (facts in, team and a human reason out), so each kind of rule is tested
without a database or Slack (tests/test_handoff_routing.py). Every wrong value fails at load
with the key's name and what it accepts (``RoutingSettingsError``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.business import BusinessSettingsError, business_file
from bot.settings import expand

SECTION = "routing"
# Rasa input channels a rule can name (bot/handoff/desks/labels.py names them for agents).
CHANNELS = frozenset({"socketio", "rest", "twitter", "slack", "telegram", "facebook", "twilio"})
HOURS = frozenset({"in", "out"})
CONDITIONS = ("channel", "topic", "language", "plan", "vip", "open_return", "business_hours")
# Slack id shapes (as bot/handoff/settings.py checks the SLACK_* ones).
CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")
GROUP_ID = re.compile(r"S[A-Z0-9]{2,}")
# Returns still on their way back (bot/customers/store.py: label_sent, received, refunded).
OPEN_RETURN_STATUSES = frozenset({"label_sent", "received"})
WORD = re.compile(r"[a-z0-9]+")


class RoutingSettingsError(BusinessSettingsError):
    """business.yml's ``routing:`` section cannot work; the message names the key and the fix."""


@dataclass(frozen=True)
class Team:
    """Who takes a routed handoff: a Slack channel, a group to notify, and its service targets."""

    name: str
    channel: str | None = None  # None: the handoff channel (SLACK_HANDOFF_CHANNEL)
    notify_group: str | None = None  # Slack user group mentioned once on each new card
    # Service targets in business minutes from when the customer asked (bot/handoff/sla.py);
    # the thread gets a reminder ``warn_before_minutes`` before one is due (None: a fifth of it).
    first_reply_minutes: float | None = None
    resolution_minutes: float | None = None
    warn_before_minutes: float | None = None


@dataclass(frozen=True)
class Rule:
    """Conditions (each a set of accepted values; absent = any) and the team they route to."""

    name: str
    team: str
    channels: frozenset[str] = frozenset()
    topics: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()  # ISO 639-1 codes ("de", "fr"): the customer's language
    vip: bool | None = None
    open_return: bool | None = None
    business_hours: str | None = None  # "in" | "out"

    @property
    def is_catch_all(self) -> bool:
        return not (self.channels or self.topics or self.plans or self.languages) and (
            self.vip is None and self.open_return is None and self.business_hours is None
        )


@dataclass(frozen=True)
class RoutingSettings:
    teams: Mapping[str, Team] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.rules)

    def slack_channels(self) -> frozenset[str]:
        """The teams' channels: Slack requests from them are ours too (desks/slack/access.py)."""
        return frozenset(team.channel for team in self.teams.values() if team.channel)


@dataclass(frozen=True)
class RouteFacts:
    """What a rule can look at, gathered by the action server when it opens the handoff."""

    channel: str
    intent: str | None = None  # the intent that led to the handoff
    reason: str = ""  # the handoff reason (actions/handoff.py REASONS_BY_INTENT, …)
    plan: str | None = None
    # The customer's language: the customer store's ``preferences.language`` (a detected
    # language can be given here when the bot learns one).
    language: str | None = None
    vip: bool = False
    open_return: bool = False
    in_hours: bool = True


@dataclass(frozen=True)
class Route:
    team: Team
    rule: str
    why: str  # "rule 'billing': intent billing_dispute"


# --------------------------------------------------------------------------- matching


def _topic(rule: Rule, facts: RouteFacts) -> str | None:
    words = set(WORD.findall(facts.reason.lower()))
    for topic in rule.topics:
        if facts.intent and topic == facts.intent.lower():
            return f"intent {facts.intent}"
        if set(WORD.findall(topic)) and set(WORD.findall(topic)) <= words:
            return f"reason mentions '{topic}'"
    return None


def _matches(rule: Rule, facts: RouteFacts) -> list[str] | None:
    """Why each condition of ``rule`` holds, or None if one does not."""
    why: list[str] = []
    if rule.channels:
        if facts.channel.lower() not in rule.channels:
            return None
        why.append(f"channel {facts.channel}")
    if rule.topics:
        topic = _topic(rule, facts)
        if topic is None:
            return None
        why.append(topic)
    if rule.languages:
        language = (facts.language or "").lower().split("-")[0]
        if language not in rule.languages:
            return None
        why.append(f"language {language}")
    if rule.plans:
        plan = (facts.plan or "").lower()
        if not plan or not any(fnmatchcase(plan, wanted) for wanted in rule.plans):
            return None
        why.append(f"plan {facts.plan}")
    if rule.vip is not None:
        if facts.vip != rule.vip:
            return None
        why.append("VIP customer" if facts.vip else "not a VIP customer")
    if rule.open_return is not None:
        if facts.open_return != rule.open_return:
            return None
        why.append("has an open return" if facts.open_return else "no open return")
    if rule.business_hours is not None:
        if facts.in_hours != (rule.business_hours == "in"):
            return None
        why.append("within business hours" if facts.in_hours else "outside business hours")
    return why


def route(settings: RoutingSettings, facts: RouteFacts) -> Route | None:
    """The first rule that matches (the last rule is a catch-all, so one always does); None without rules."""
    for rule in settings.rules:
        why = _matches(rule, facts)
        if why is not None:
            reason = ", ".join(why) or "default"
            return Route(settings.teams[rule.team], rule.name, f"rule '{rule.name}': {reason}")
    return None


def customer_facts(
    customer: Mapping[str, Any] | None,
    orders: Sequence[Mapping[str, Any]],
    detected_language: str | None = None,
) -> dict[str, Any]:
    """Plan, language, VIP flag and open return from the context packet's customer and orders.

    The language is the one this conversation is in (the ``language`` slot the language
    detector fills) when known, else the customer store's ``preferences.language``.

    The VIP flag is the customer store's ``preferences.vip`` (true/false); an open return is one
    whose label was sent or that was received but not refunded yet.
    """
    preferences = (customer or {}).get("preferences") or {}
    open_return = any(
        str(ret.get("status") or "").lower() in OPEN_RETURN_STATUSES
        for order in orders
        for ret in order.get("returns") or ()
    )
    return {
        "plan": (customer or {}).get("plan"),
        "language": str(detected_language or preferences.get("language") or "") or None,
        "vip": preferences.get("vip") is True,
        "open_return": open_return,
    }


# --------------------------------------------------------------------------- settings


def load_routing_settings(path: Path | None = None) -> RoutingSettings:
    """The ``routing:`` section of ``path`` or of the business.yml in use (no rules when absent)."""
    return _load(path or business_file())


@lru_cache(maxsize=8)
def _load(path: Path) -> RoutingSettings:
    document = expand(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, where=path.name)
    return parse_routing_settings(document.get(SECTION), where=str(path))


def _fail(where: str, key: str, problem: str) -> RoutingSettingsError:
    return RoutingSettingsError(f"{where}: routing.{key} {problem} (docs/configuration.md, 'Routing')")


def _only(raw: Mapping[str, Any], known: Sequence[str], where: str, key: str) -> None:
    unknown = sorted(str(name) for name in set(raw) - set(known))
    if unknown:
        raise _fail(where, key, f"has unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")


def _minutes(value: Any, where: str, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _fail(where, key, f"must be a number of minutes above 0, not {value!r}")
    return float(value)


def _team(name: str, raw: Any, where: str) -> Team:
    key = f"teams.{name}"
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise _fail(where, key, f"must be a mapping (channel, notify_group, …), not {raw!r}")
    known = ("channel", "notify_group", "first_reply_minutes", "resolution_minutes", "warn_before_minutes")
    _only(raw, known, where, key)
    channel = str(raw.get("channel") or "").strip() or None
    if channel and not CHANNEL_ID.fullmatch(channel):
        raise _fail(
            where, f"{key}.channel",
            f"must be a Slack channel id like C0123ABCD (channel details → About), not {channel!r}",
        )  # fmt: skip
    group = str(raw.get("notify_group") or "").strip() or None
    if group and not GROUP_ID.fullmatch(group):
        raise _fail(
            where, f"{key}.notify_group", f"must be a Slack user group id like S0123ABCD, not {group!r}"
        )
    return Team(
        name=name,
        channel=channel,
        notify_group=group,
        first_reply_minutes=_minutes(raw.get("first_reply_minutes"), where, f"{key}.first_reply_minutes"),
        resolution_minutes=_minutes(raw.get("resolution_minutes"), where, f"{key}.resolution_minutes"),
        warn_before_minutes=_minutes(raw.get("warn_before_minutes"), where, f"{key}.warn_before_minutes"),
    )


def _words(value: Any, where: str, key: str) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    words = tuple(str(item).strip().lower() for item in values if str(item or "").strip())
    if not words or any(isinstance(item, Mapping | list) for item in values):
        raise _fail(where, key, f"must be a name or a list of names, not {value!r}")
    return words


def _flag(value: Any, where: str, key: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _fail(where, key, f"must be true or false, not {value!r}")
    return value


def _rule(index: int, raw: Any, teams: Mapping[str, Team], where: str, seen: set[str]) -> Rule:
    key = f"rules[{index}]"
    if not isinstance(raw, Mapping):
        raise _fail(where, key, f"must be a mapping with name, team and when, not {raw!r}")
    _only(raw, ("name", "team", "when"), where, key)
    name = str(raw.get("name") or "").strip()
    if not name:
        raise _fail(where, f"{key}.name", "is missing: name each rule (the card says which rule routed it)")
    if name in seen:
        raise _fail(where, f"{key}.name", f"{name!r} is used twice; rule names must be unique")
    seen.add(name)
    team = str(raw.get("team") or "").strip()
    if team not in teams:
        raise _fail(
            where, f"{key}.team", f"is {team!r}, not one of routing.teams ({', '.join(teams) or 'none'})"
        )
    when = raw.get("when") or {}
    if not isinstance(when, Mapping):
        raise _fail(where, f"{key}.when", f"must be a mapping of conditions ({', '.join(CONDITIONS)})")
    _only(when, CONDITIONS, where, f"{key}.when")
    at = f"{key}.when"
    channels = (
        frozenset(_words(when["channel"], where, f"{at}.channel")) if "channel" in when else frozenset()
    )
    if channels - CHANNELS:
        wrong, known = ", ".join(sorted(channels - CHANNELS)), ", ".join(sorted(CHANNELS))
        raise _fail(where, f"{at}.channel", f"has unknown channel(s) {wrong}; known: {known}")
    hours = when.get("business_hours")
    if hours is not None and str(hours).lower() not in HOURS:
        raise _fail(where, f"{at}.business_hours", f"must be 'in' or 'out', not {hours!r}")
    return Rule(
        name=name,
        team=team,
        channels=channels,
        topics=_words(when["topic"], where, f"{at}.topic") if "topic" in when else (),
        plans=_words(when["plan"], where, f"{at}.plan") if "plan" in when else (),
        languages=_words(when["language"], where, f"{at}.language") if "language" in when else (),
        vip=_flag(when.get("vip"), where, f"{at}.vip"),
        open_return=_flag(when.get("open_return"), where, f"{at}.open_return"),
        business_hours=str(hours).lower() if hours is not None else None,
    )


def parse_routing_settings(raw: Any, where: str = "business.yml") -> RoutingSettings:
    """Typed settings from the section's mapping; errors name ``routing.<key>`` and the fix."""
    if raw is None:
        return RoutingSettings()
    if not isinstance(raw, Mapping):
        raise RoutingSettingsError(f"{where}: 'routing' must be a mapping with teams and rules, not {raw!r}")
    _only(raw, ("teams", "rules"), where, "")
    teams_raw, rules_raw = raw.get("teams"), raw.get("rules")
    if not isinstance(teams_raw, Mapping) or not teams_raw:
        raise _fail(where, "teams", "must name at least one team (name: {channel: C0123ABCD})")
    teams = {str(name): _team(str(name), value, where) for name, value in teams_raw.items()}
    if not isinstance(rules_raw, list) or not rules_raw:
        raise _fail(where, "rules", "must be a list of rules, ending with a default (a rule without 'when')")
    seen: set[str] = set()
    rules = tuple(_rule(index, item, teams, where, seen) for index, item in enumerate(rules_raw))
    catch_all = next((index for index, rule in enumerate(rules) if rule.is_catch_all), None)
    if catch_all is None:
        raise _fail(
            where, "rules",
            "needs a default last: a rule without 'when', e.g. {name: default, team: "
            f"{next(iter(teams))}}}, so every handoff has a team",
        )  # fmt: skip
    if catch_all != len(rules) - 1:
        raise _fail(
            where, f"rules[{catch_all}]",
            f"('{rules[catch_all].name}') has no 'when' and matches everything, so the rules after it "
            "never apply; move it last",
        )  # fmt: skip
    return RoutingSettings(teams=teams, rules=rules)
