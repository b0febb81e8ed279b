"""An independent recomputation of the report's headline figures, straight from the databases.

Tests compare the report (bot/experience/report.py), the dashboard and the digest with this.
It follows docs/metrics.md word by word and shares no code with ``bot.experience``: raw SQL
on Rasa's ``events`` table and on ``handoffs``, ``survey_requests`` and ``identities``, then
plain loops. When the two disagree, one of them misreads the definitions — which is the
point of having two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import median as _median
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text

BOOKKEEPING = {
    "action_listen", "action_session_start", "action_unlikely_intent", "action_deactivate_loop",
    "action_handoff_resolved", "action_handoff_unanswered", "action_offer_survey", "action_survey_answer",
}  # fmt: skip
SURVEY_ACTIONS = {"action_offer_survey", "action_survey_answer"}
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Hours:
    """Opening hours as business.yml states them (timezone, days, "HH:MM" open and close)."""

    timezone: str
    days: tuple[str, ...] = DAY_NAMES
    opens: str = "00:00"
    closes: str = "00:00"


@dataclass
class Conv:
    key: str
    sender: str
    channel: str
    customer: str
    started: float
    ended: float
    bot_took_part: bool
    confirmed: bool
    abandoned: bool
    messages: int
    fallbacks: int
    first_bot: float | None
    last_bot: float | None
    handoff: dict[str, Any] | None = None
    first_agent: float | None = None
    unrecognised: list[str] = field(default_factory=list)


def _rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql)))
    finally:
        engine.dispose()


def _stamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.replace(tzinfo=UTC).timestamp()


def _intent(event: dict[str, Any]) -> str:
    return str(((event.get("parse_data") or {}).get("intent") or {}).get("name") or "")


def _is_agent(event: dict[str, Any]) -> bool:
    meta = event.get("metadata") or {}
    return event.get("event") == "bot" and bool(meta.get("agent_id") or meta.get("agent_name"))


def _sessions(events: list[dict[str, Any]], expiration: float) -> list[list[dict[str, Any]]]:
    found: list[list[dict[str, Any]]] = []
    for event in events:
        kind = event.get("event")
        marks_start = kind == "session_started" or (
            kind == "action" and event.get("name") == "action_session_start"
        )
        current = found[-1] if found else None
        only_start = current is not None and all(
            e.get("event") == "action" and e.get("name") == "action_session_start" for e in current
        )
        users = [e for e in current or [] if e.get("event") == "user"]
        late = kind == "user" and users and event["timestamp"] - users[-1]["timestamp"] > expiration
        if current is None or (marks_start and not only_start) or late:
            found.append([])
        found[-1].append(event)
    return found


def _conversation(
    sender: str, session: list[dict[str, Any]], handoff: dict[str, Any] | None, agents: list[dict[str, Any]],
    identities: dict[tuple[str, str], int], satisfied: set[str],
) -> Conv | None:  # fmt: skip
    turns: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for event in session:
        if event.get("event") == "user":
            turns.append((event, []))
        elif turns:
            turns[-1][1].append(event)

    def survey_answer(after: list[dict[str, Any]]) -> bool:
        acted = [e for e in after if e.get("event") == "action" and e.get("name") != "action_listen"]
        if not acted or acted[0].get("name") != "action_survey_answer":
            return False
        return not any(e.get("event") == "undo" for e in after[after.index(acted[0]) + 1 :])

    turns = [(user, after) for user, after in turns if not survey_answer(after)]
    customer_turns = [
        (n, user, after)
        for n, (user, after) in enumerate(turns)
        if not _intent(user).startswith("EXTERNAL_") and not str(user.get("text") or "").startswith("/")
    ]
    if not customer_turns:
        return None
    marks = [e for e in session if e.get("event") == "session_started"]
    key = f"{sender}@{int((marks[-1] if marks else session[0])['timestamp'])}"
    first = customer_turns[0][1]
    channel = str(first.get("input_channel") or "unknown")
    owner = identities.get((channel, sender))
    handoff_times = [
        e["timestamp"] for e in session if e.get("event") == "action" and e.get("name") == "action_handoff"
    ]
    if handoff is not None:
        handoff_times.append(_stamp(handoff["created_at"]))
    handoff_at = min(handoff_times) if handoff_times else None
    answered_turns = []
    for n, user, after in customer_turns:
        names = [e.get("name") for e in after if e.get("event") == "action"]
        before_handoff = handoff_at is None or user["timestamp"] < handoff_at
        if before_handoff and "action_handoff" not in names and any(x not in BOOKKEEPING for x in names):
            answered_turns.append(n)
    # The bot's own messages, without the agents' and without the survey's (docs/metrics.md, Times).
    bot_lines, last_action = [], None
    for event in session:
        if event.get("event") == "action":
            last_action = event.get("name")
        elif event.get("event") == "bot" and not _is_agent(event) and last_action not in SURVEY_ACTIONS:
            bot_lines.append(event)
    started = first["timestamp"]
    replies = [e["timestamp"] for e in bot_lines if e["timestamp"] >= started]
    loop = None
    for event in session:
        if event.get("event") == "active_loop":
            loop = event.get("name")
        elif event.get("event") == "restart":
            loop = None
    fixed = any(
        (e.get("metadata") or {}).get("utter_action") == "utter_troubleshoot_fixed" for e in bot_lines
    )
    thanked = bool(answered_turns) and any(
        _intent(user) == "thank" for n, user, _ in customer_turns if n > answered_turns[0]
    )
    fallbacks = [user for _, user, _ in customer_turns if _intent(user) == "nlu_fallback"]
    conv = Conv(
        key=key, sender=sender, channel=channel,
        customer=f"customer:{owner}" if owner is not None else f"sender:{sender}",
        started=started, ended=max(e["timestamp"] for e in session if e.get("event") in ("user", "bot")),
        bot_took_part=bool(answered_turns), confirmed=key in satisfied or fixed or thanked,
        abandoned=loop is not None and handoff is None, messages=len(customer_turns),
        fallbacks=len(fallbacks),
        first_bot=replies[0] if replies else None, last_bot=replies[-1] if replies else None, handoff=handoff,
        unrecognised=[" ".join(str(u.get("text") or "").split()).lower() for u in fallbacks],
    )  # fmt: skip
    if handoff is not None:
        created = _stamp(handoff["created_at"]) or 0.0
        later = [e["timestamp"] for e in agents if e["timestamp"] >= created]
        conv.first_agent = later[0] if later else None
    return conv


def load_conversations(
    tracker_url: str, database_url: str, *, expiration_minutes: float = 60
) -> tuple[list[Conv], list[dict[str, Any]], int]:
    """Every conversation in the tracker store, every survey row, and the handoffs waiting now."""
    by_sender: dict[str, list[dict[str, Any]]] = {}
    for sender, data in _rows(tracker_url, "SELECT sender_id, data FROM events ORDER BY timestamp, id"):
        by_sender.setdefault(str(sender), []).append(json.loads(data))
    columns = (
        "id, conversation_id, reason, status, created_at, claimed_at, resolved_at, claimed_by_name, "
        "resolved_by_name"
    )
    handoffs: dict[str, list[dict[str, Any]]] = {}
    for row in _rows(database_url, f"SELECT {columns} FROM handoffs ORDER BY created_at, id"):
        item = dict(row._mapping)
        for name in ("created_at", "claimed_at", "resolved_at"):
            if isinstance(item[name], str):
                item[name] = datetime.fromisoformat(item[name])
        handoffs.setdefault(str(item["conversation_id"]), []).append(item)
    identities = {
        (str(channel), str(external)): int(customer)
        for channel, external, customer in _rows(
            database_url, "SELECT channel, external_id, customer_id FROM identities"
        )
    }
    surveys = [dict(row._mapping) for row in _rows(database_url, "SELECT * FROM survey_requests")]
    for row in surveys:
        for name in ("asked_at", "answered_at"):
            if isinstance(row[name], str):
                row[name] = datetime.fromisoformat(row[name])
    satisfied = {
        row["conversation_key"]
        for row in surveys
        if row["status"] == "answered" and row["score"] is not None
        and ((row["kind"] == "csat" and row["score"] >= 4) or (row["kind"] == "ces" and row["score"] >= 5))
    }  # fmt: skip
    conversations: list[Conv] = []
    for sender, events in by_sender.items():
        sessions = _sessions(events, expiration_minutes * 60)
        starts = [s[0]["timestamp"] for s in sessions]
        mine: dict[int, dict[str, Any]] = {}
        for row in handoffs.get(sender, []):
            created = _stamp(row["created_at"]) or 0.0
            index = max([n for n, start in enumerate(starts) if start <= created + 5.0] or [0])
            mine.setdefault(index, row)  # the first handoff of the session
        agents = [e for e in events if _is_agent(e)]
        for index, session in enumerate(sessions):
            conv = _conversation(sender, session, mine.get(index), agents, identities, satisfied)
            if conv is not None:
                conversations.append(conv)
    waiting = sum(1 for rows in handoffs.values() for row in rows if row["status"] == "waiting")
    return conversations, surveys, waiting


def business_seconds(start: float, end: float, hours: Hours) -> float:
    """Seconds of [start, end) when the business is open, day by local day."""
    zone = ZoneInfo(hours.timezone)
    opens, closes = (time(*map(int, t.split(":"))) for t in (hours.opens, hours.closes))
    total = 0.0
    day = datetime.fromtimestamp(start, zone).date() - timedelta(days=1)
    while datetime.combine(day, time(0), zone).timestamp() < end:
        if DAY_NAMES[day.weekday()] in hours.days:
            lo = datetime.combine(day, opens, zone).timestamp()
            if opens == closes:
                hi = datetime.combine(day + timedelta(days=1), time(0), zone).timestamp()
            else:
                hi = datetime.combine(day, closes, zone).timestamp()
            total += max(0.0, min(end, hi) - max(start, lo))
        day += timedelta(days=1)
    return total


def _pct(part: float, whole: float) -> float | None:
    return None if not whole else round(100.0 * part / whole, 1)


def _med(values: list[float]) -> float | None:
    return None if not values else round(float(_median(values)), 1)


def headline(
    tracker_url: str, database_url: str, first_day: date, last_day: date, *, now: datetime, hours: Hours,
    verified_hours: float = 24, durable_days: float = 7, expiration_minutes: float = 60,
) -> dict[str, Any]:  # fmt: skip
    """The period's headline figures (local dates, inclusive) as docs/metrics.md defines them."""
    zone = ZoneInfo(hours.timezone)
    everything, surveys, waiting = load_conversations(
        tracker_url, database_url, expiration_minutes=expiration_minutes
    )
    at = now.timestamp()

    def local(stamp: float) -> date:
        return datetime.fromtimestamp(stamp, zone).date()

    starts: dict[str, list[float]] = {}
    for c in everything:
        starts.setdefault(c.customer, []).append(c.started)

    def back_within(c: Conv, window: float) -> bool:
        return any(c.started < s <= c.ended + window for s in starts[c.customer])

    convs = [c for c in everything if first_day <= local(c.started) <= last_day]
    entered = [c for c in convs if c.bot_took_part]
    day24, day7 = verified_hours * 3600, durable_days * 86400

    def verified(c: Conv) -> bool:
        return c.handoff is None and not c.abandoned and (c.confirmed or not back_within(c, day24))

    b24 = [c for c in entered if c.ended + day24 <= at]
    b7 = [c for c in entered if c.ended + day7 <= at]
    c7 = [c for c in convs if c.ended + day7 <= at]
    b60 = [c for c in entered if c.ended + expiration_minutes * 60 <= at]
    handed = [c for c in convs if c.handoff is not None]
    figures: dict[str, Any] = {
        "conversations": len(convs),
        "involvement": _pct(len(entered), len(convs)),
        "containment": _pct(sum(1 for c in entered if c.handoff is None), len(entered)),
        "verified_resolution": _pct(sum(1 for c in b24 if verified(c)), len(b24)),
        "durable_resolution": _pct(sum(1 for c in b7 if verified(c) and not back_within(c, day7)), len(b7)),
        "reopen_rate": _pct(sum(1 for c in c7 if back_within(c, day7)), len(c7)),
        "abandoned_rate": _pct(sum(1 for c in b60 if c.abandoned), len(b60)),
        "handoff_rate": _pct(len(handed), len(convs)),
        "fallback_rate": _pct(sum(c.fallbacks for c in convs), sum(c.messages for c in convs)),
        "bot_first_response_median": _med(
            [c.first_bot - c.started for c in convs if c.first_bot is not None]
        ),
        "bot_resolution_median": _med(
            [
                c.last_bot - c.started
                for c in entered
                if c.handoff is None and not c.abandoned and c.last_bot is not None
            ]
        ),
        "waiting_now": waiting,
    }
    spans = {"claimed_at": "handoff_claim_median", "resolved_at": "people_resolution_median"}
    for column, name in spans.items():
        pairs = [
            (_stamp(c.handoff["created_at"]) or 0.0, _stamp(c.handoff[column]) or 0.0)
            for c in handed if c.handoff and c.handoff[column] is not None
        ]  # fmt: skip
        figures[name] = _med([max(0.0, b - a) for a, b in pairs])
        figures[f"{name}_business_hours"] = _med([business_seconds(a, b, hours) for a, b in pairs])
    figures["people_first_reply_median"] = _med([
        max(0.0, c.first_agent - (_stamp(c.handoff["created_at"]) or 0.0))
        for c in handed if c.handoff and c.first_agent is not None
    ])  # fmt: skip
    asked = [s for s in surveys if first_day <= local(_stamp(s["asked_at"]) or 0.0) <= last_day]
    figures.update(survey_figures(asked))
    return figures


def survey_figures(asked: list[dict[str, Any]]) -> dict[str, float | None]:
    """CSAT %, NPS, CES, response rates, bot-only / after-a-person, over these rows."""
    figures: dict[str, float | None] = {}

    def score(kind: str, values: list[int]) -> float | None:
        if not values:
            return None
        if kind == "csat":
            return round(100.0 * sum(1 for v in values if v >= 4) / len(values), 1)
        if kind == "nps":
            return round(
                100.0 * (sum(1 for v in values if v >= 9) - sum(1 for v in values if v <= 6)) / len(values), 1
            )
        return round(sum(values) / len(values), 2)

    for kind in ("csat", "nps", "ces"):
        rows = [s for s in asked if s["kind"] == kind]
        done = [s for s in rows if s["status"] == "answered" and s["score"] is not None]
        person = [s for s in done if s["trigger"] == "after_agent" or s["agent_name"]]
        alone = [s for s in done if not (s["trigger"] == "after_agent" or s["agent_name"])]
        figures[kind] = score(kind, [int(s["score"]) for s in done])
        figures[f"{kind}_response_rate"] = _pct(len(done), len(rows))
        figures[f"{kind}_after_person"] = score(kind, [int(s["score"]) for s in person])
        figures[f"{kind}_bot_only"] = score(kind, [int(s["score"]) for s in alone])
    return figures
