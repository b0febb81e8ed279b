"""The demo month as a plan (pure): who writes when, on which channel, and how each conversation ends.

``plan_month`` decides everything random up front from one seed — customers and their
channel accounts, start times in the business's timezone (busy late mornings, quiet nights
and Sundays), the story of each conversation (answered, left mid-form, not understood,
handed to a person …), who comes back within a day or a week (on the same channel or
another of their accounts), and which survey is asked and how it is answered — so the same
seed and ``now`` give the same month. bot/experience/demo_script.py turns each
:class:`ConversationSpec` into Rasa events; bot/experience/demo.py stores them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot.business import BusinessHours
from bot.handoff.store import DEMO_SENDER_PREFIX

TEXTS_FILE = Path(__file__).with_name("demo_texts.yml")
PREFIX = DEMO_SENDER_PREFIX  # every demo sender id starts with it (that is how --remove finds them)
DAY = 86400.0

# Channel (Rasa input channel name) -> share of conversations and sender-id shape.
CHANNELS = {"socketio": 0.52, "twitter": 0.22, "rest": 0.11, "slack": 0.15}
SENDER_PREFIX = {"socketio": "wc", "twitter": "x", "rest": "app", "slack": "slack"}
KNOWN_SHARE = {"socketio": 0.45, "twitter": 0.7, "rest": 0.95, "slack": 0.9}  # share of known customers

# The story of a conversation -> weight.
STORIES = {
    "answered": 0.44, "form_done": 0.12, "abandoned": 0.08, "fallback_recovered": 0.05,
    "fallback_left": 0.04, "fallback_handoff": 0.02, "handoff": 0.19,
}  # fmt: skip
ENDINGS = {"thanks": 0.62, "goodbye": 0.1, "silent": 0.28}  # after the bot answered
HANDOFF_CAUSES = {
    "human_handoff": 0.42, "billing_dispute": 0.16, "cancel_subscription": 0.08, "complaint": 0.1,
    "delete_account": 0.04, "upset": 0.08, "troubleshooting_failed": 0.12,
}  # fmt: skip
# Reopened: the same customer is back within a day / within a week, by how the first one ended.
COMES_BACK = {"silent": (0.24, 0.08), "abandoned": (0.25, 0.08), "fallback_left": (0.3, 0.08),
              "thanks": (0.03, 0.03), "goodbye": (0.05, 0.04), "handoff": (0.06, 0.05)}  # fmt: skip
OTHER_CHANNEL = 0.35  # of the known customers who come back: on another of their accounts

# Surveys: share of eligible conversations asked, mix of kinds, and how people answer.
ASKED = 0.75
KIND_MIX = {"csat": 0.5, "ces": 0.25, "nps": 0.25}
ANSWER_RATE = {"csat": 0.46, "ces": 0.38, "nps": 0.31}
DECLINE_RATE = 0.08
NPS_EVERY = 30 * DAY  # at most one NPS per customer in 30 days (the shipped default)
# Score weights (low to high) for bot-only and after-a-person answers.
SCORES = {
    ("csat", False): [3, 4, 10, 34, 49], ("csat", True): [7, 7, 12, 32, 42],
    ("ces", False): [2, 3, 5, 9, 18, 31, 32], ("ces", True): [4, 6, 8, 12, 20, 27, 23],
    ("nps", False): [2, 1, 2, 2, 3, 5, 6, 10, 19, 26, 24],
    ("nps", True): [3, 2, 3, 3, 4, 6, 7, 10, 18, 23, 21],
}  # fmt: skip
LOWEST = {"csat": 1, "ces": 1, "nps": 0}
UNHAPPY_BELOW = {"csat": 3, "ces": 4, "nps": 7}  # a score below this is a detractor's


@dataclass(frozen=True)
class CustomerSpec:
    index: int
    name: str
    email: str
    plan: str
    identities: tuple[tuple[str, str], ...]  # (channel, sender id)


@dataclass(frozen=True)
class HandoffSpec:
    cause: str  # a key of demo_texts.yml handoffs:
    outcome: str  # resolved | timed_out | after_hours | waiting | claimed
    agent: tuple[str, str] | None = None  # (Slack user id, display name)
    claim_after: float = 0.0  # seconds from the request to the claim
    agent_turns: int = 1
    leaves_message: bool = False


@dataclass(frozen=True)
class SurveySpec:
    kind: str
    status: str  # answered | declined | ignored | asked
    score: int | None = None
    comment_mood: str | None = None  # unhappy | neutral | happy: the comment's kind (demo_texts.yml comments)
    changed_subject: bool = False  # ignored by asking something else


@dataclass(frozen=True)
class ConversationSpec:
    index: int
    sender: str
    channel: str
    start: float  # Unix seconds of the first event
    story: str
    topic: str  # the intent asked about
    customer: int | None  # CustomerSpec.index, None for someone we do not know
    seed: str  # for the conversation's own texts and timings
    greet: bool = False
    ending: str = "thanks"
    handoff: HandoffSpec | None = None
    survey: SurveySpec | None = None
    reopens: int | None = None  # index of the conversation this one comes back to


@dataclass(frozen=True)
class MonthPlan:
    customers: tuple[CustomerSpec, ...]
    conversations: tuple[ConversationSpec, ...]  # in start order


def load_texts(path: Path = TEXTS_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# Local hour -> relative traffic (people write from 7 to 23, most late morning and after lunch).
HOURS = [0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.4, 1.2, 2.6, 4.0, 4.6, 4.4, 3.6, 4.0, 4.2, 3.9, 3.5, 3.0,
         2.6, 2.4, 2.0, 1.5, 0.9, 0.5]  # fmt: skip
WEEKDAYS = [1.15, 1.05, 1.0, 1.0, 0.95, 0.75, 0.45]  # Monday .. Sunday


def start_times(rng: random.Random, count: int, now: float, days: int, zone: ZoneInfo) -> list[float]:
    """``count`` starts in the ``days`` before ``now`` (ending 2 h before it), local-time shaped."""
    first = datetime.fromtimestamp(now - days * DAY, zone).date()
    dates = [first + timedelta(days=n) for n in range(days + 1)]
    stamps: list[float] = []
    while len(stamps) < count:
        day = rng.choices(dates, weights=[WEEKDAYS[d.weekday()] for d in dates])[0]
        hour = rng.choices(range(24), weights=HOURS)[0]
        local = datetime(day.year, day.month, day.day, hour, tzinfo=zone) + timedelta(
            seconds=rng.uniform(0, 3600)
        )
        stamp = local.timestamp()
        if now - days * DAY <= stamp <= now - 2 * 3600:
            stamps.append(stamp)
    return sorted(stamps)


def plan_month(
    *, seed: int, now: float, days: int, conversations: int, hours: BusinessHours, texts: dict[str, Any]
) -> MonthPlan:
    """The whole month for ``seed``; ``now`` (Unix seconds) is its end; ``hours`` the business's."""
    rng = random.Random(seed)
    zone = ZoneInfo(hours.timezone)
    customers: list[CustomerSpec] = []
    specs: list[ConversationSpec] = []
    primaries = max(1, round(conversations / 1.11))  # about 10 % of conversations are someone coming back
    for start in start_times(rng, primaries, now, days, zone):
        channel = _pick(rng, CHANNELS)
        story = _pick(rng, STORIES)
        sender = _sender(rng, channel)
        customer: int | None = None
        if rng.random() < KNOWN_SHARE[channel]:
            customer = len(customers)
            customers.append(_customer(rng, customer, texts, ((channel, sender),)))
        spec = _conversation(rng, len(specs), sender, channel, start, story, customer, texts, hours)
        specs.append(spec)
    specs += _comebacks(rng, specs, customers, now, texts, hours)
    specs += _live(rng, len(specs), now, customers, texts, hours)
    ordered = sorted(specs, key=lambda s: s.start)
    renumber = {spec.index: n for n, spec in enumerate(ordered)}
    ordered = [
        replace(s, index=renumber[s.index], reopens=None if s.reopens is None else renumber[s.reopens])
        for s in ordered
    ]
    return MonthPlan(tuple(customers), tuple(_with_surveys(rng, ordered, now)))


def _sender(rng: random.Random, channel: str) -> str:
    shape = SENDER_PREFIX[channel]
    if channel == "twitter":
        return f"{PREFIX}{shape}-{rng.randrange(10**15, 10**16)}"
    if channel == "slack":
        return f"{PREFIX}{shape}-U{rng.getrandbits(40):010X}"
    return f"{PREFIX}{shape}-{rng.getrandbits(48):012x}"


def _customer(
    rng: random.Random, index: int, texts: dict[str, Any], identities: tuple[tuple[str, str], ...]
) -> CustomerSpec:
    first, last = rng.choice(texts["first_names"]), rng.choice(texts["last_names"])
    return CustomerSpec(
        index=index, name=f"{first} {last}", email=f"{first}.{last}.{index}@demo.example".lower(),
        plan=rng.choice(texts["plans"]), identities=identities,
    )  # fmt: skip


def _topic(rng: random.Random, story: str, texts: dict[str, Any]) -> str:
    if story in ("form_done", "abandoned"):
        return rng.choices(list(texts["forms"]), weights=[5, 2, 1, 2, 2])[0]
    return rng.choice(list(texts["questions"]))


def _conversation(
    rng: random.Random, index: int, sender: str, channel: str, start: float, story: str,
    customer: int | None, texts: dict[str, Any], hours: BusinessHours, *, topic: str | None = None,
) -> ConversationSpec:  # fmt: skip
    handoff = None
    if story in ("handoff", "fallback_handoff"):
        cause = "not_understood" if story == "fallback_handoff" else _pick(rng, HANDOFF_CAUSES)
        handoff = _handoff(rng, cause, start, hours, texts)
    return ConversationSpec(
        index=index, sender=sender, channel=channel, start=start, story=story,
        topic=topic or _topic(rng, story, texts), customer=customer, seed=f"{rng.getrandbits(64):x}",
        greet=rng.random() < 0.3, ending=_pick(rng, ENDINGS) if story == "answered" else "thanks",
        handoff=handoff,
    )  # fmt: skip


def _handoff(
    rng: random.Random,
    cause: str,
    start: float,
    hours: BusinessHours,
    texts: dict[str, Any],
    outcome: str | None = None,
) -> HandoffSpec:
    if outcome is None:
        if not hours.is_open(datetime.fromtimestamp(start + 120, UTC)):
            outcome = "after_hours"
        else:
            outcome = "timed_out" if rng.random() < 0.06 else "resolved"
    agent = rng.choices([(a["id"], a["name"]) for a in texts["agents"]], weights=[5, 4, 3, 2, 1])[0]
    claim = min(270.0, rng.lognormvariate(4.6, 0.7))  # median ~100 s, within the 5 min claim timeout
    return HandoffSpec(
        cause=cause, outcome=outcome, agent=agent if outcome in ("resolved", "claimed") else None,
        claim_after=claim, agent_turns=rng.choice([1, 2, 2, 3, 3, 4]), leaves_message=rng.random() < 0.6,
    )  # fmt: skip


def _comebacks(
    rng: random.Random, specs: list[ConversationSpec], customers: list[CustomerSpec], now: float,
    texts: dict[str, Any], hours: BusinessHours,
) -> list[ConversationSpec]:  # fmt: skip
    """The same customer back within a day or a week, for the same thing (the first did not last)."""
    zone = ZoneInfo(hours.timezone)
    found: list[ConversationSpec] = []
    for spec in specs:
        outcome = "handoff" if spec.handoff else spec.story if spec.story in COMES_BACK else spec.ending
        day, week = COMES_BACK.get(outcome, (0.0, 0.0))
        roll = rng.random()
        if roll >= day + week:
            continue
        for _ in range(6):  # people come back in the day, not at 3 a.m.
            gap = rng.uniform(3 * 3600, DAY - 600) if roll < day else rng.uniform(DAY + 600, 7 * DAY - 600)
            start = spec.start + gap
            if 7 <= datetime.fromtimestamp(start, zone).hour < 23:
                break
        if start > now - 2 * 3600:
            continue
        channel, sender = spec.channel, spec.sender
        if spec.customer is not None and rng.random() < OTHER_CHANNEL:
            channel = rng.choice([c for c in CHANNELS if c != spec.channel])
            sender = _sender(rng, channel)
            old = customers[spec.customer]
            customers[spec.customer] = replace(old, identities=(*old.identities, (channel, sender)))
        story = rng.choices(["answered", "handoff", "form_done"], weights=[5, 3, 2])[0]
        same = {"form_done": texts["forms"], "answered": texts["questions"]}.get(story, {})
        topic = spec.topic if spec.topic in same else None
        back = _conversation(
            rng,
            len(specs) + len(found),
            sender,
            channel,
            start,
            story,
            spec.customer,
            texts,
            hours,
            topic=topic,
        )
        found.append(replace(back, reopens=spec.index))
    return found


def _live(
    rng: random.Random, first_index: int, now: float, customers: list[CustomerSpec], texts: dict[str, Any],
    hours: BusinessHours,
) -> list[ConversationSpec]:  # fmt: skip
    """Handoffs going on right now (when the team is in): two waiting for a person, one with an agent."""
    if not hours.is_open(datetime.fromtimestamp(now, UTC)):
        return []
    found = []
    for n, (outcome, minutes) in enumerate((("waiting", 3.5), ("waiting", 1.5), ("claimed", 9.0))):
        channel = _pick(rng, CHANNELS)
        sender = _sender(rng, channel)
        customer = len(customers)
        customers.append(_customer(rng, customer, texts, ((channel, sender),)))
        spec = _conversation(
            rng, first_index + n, sender, channel, now - minutes * 60, "handoff", customer, texts, hours
        )
        handoff = _handoff(rng, "human_handoff", now, hours, texts, outcome)
        found.append(
            replace(spec, greet=False, handoff=replace(handoff, claim_after=min(handoff.claim_after, 120)))
        )
    return found


def _eligible(spec: ConversationSpec) -> str | None:
    """The survey trigger of a conversation that ended well, else None."""
    if spec.handoff is not None:
        return "after_agent" if spec.handoff.outcome == "resolved" else None
    if spec.story in ("answered", "form_done", "fallback_recovered") and spec.ending in ("thanks", "goodbye"):
        return "bot_resolved"
    return None


def _with_surveys(rng: random.Random, specs: list[ConversationSpec], now: float) -> list[ConversationSpec]:
    last_nps: dict[str, float] = {}
    result = []
    for spec in specs:
        trigger = _eligible(spec)
        if trigger is None or rng.random() >= ASKED:
            result.append(spec)
            continue
        who = f"customer:{spec.customer}" if spec.customer is not None else f"sender:{spec.sender}"
        kind = _pick(rng, KIND_MIX)
        if kind == "nps" and spec.start - last_nps.get(who, -NPS_EVERY) < NPS_EVERY:
            kind = "csat"
        if kind == "nps":
            last_nps[who] = spec.start
        result.append(
            replace(spec, survey=_survey(rng, kind, trigger == "after_agent", recent=now - spec.start < 5400))
        )
    return result


def _survey(rng: random.Random, kind: str, after_person: bool, *, recent: bool) -> SurveySpec:
    roll = rng.random()
    if roll >= ANSWER_RATE[kind]:
        if roll < ANSWER_RATE[kind] + DECLINE_RATE:
            return SurveySpec(kind, "declined")
        return SurveySpec(
            kind, "asked" if recent else "ignored", changed_subject=not recent and rng.random() < 0.3
        )
    weights = SCORES[(kind, after_person)]
    score = LOWEST[kind] + rng.choices(range(len(weights)), weights=weights)[0]
    unhappy = score < UNHAPPY_BELOW[kind]
    top = score == LOWEST[kind] + len(weights) - 1
    mood = "unhappy" if unhappy else "happy" if top else "neutral"
    wants = {"unhappy": 0.65, "neutral": 0.15, "happy": 0.25}[mood]
    return SurveySpec(kind, "answered", score=score, comment_mood=mood if rng.random() < wants else None)
