"""The stories of the demo month: each planned conversation played on a :class:`Script` (pure).

A story is what happens between the customer and the bot (answered, a form finished or
left half-way, not understood), and for a handoff what happens with the person: claimed
and resolved by a named agent, nobody in time (timed out), outside opening hours (the bot
takes a message), or still waiting right now. The survey, if the plan asks one, comes at
the end of a conversation that ended well, or after the agent resolved it.
"""

from __future__ import annotations

from typing import Any

from rasa.shared.core.events import (
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    FollowupAction,
    SlotSet,
    UserUttered,
)

from bot.context import transcript_from_events
from bot.customers.records import to_jsonable
from bot.experience.demo_plan import ConversationSpec, CustomerSpec
from bot.experience.demo_script import Rendered, Script, utc
from bot.redact import redact

CLAIM_TIMEOUT = 300.0  # business.yml handoff.claim_timeout_minutes (the shipped 5)


def render(
    spec: ConversationSpec, customer: CustomerSpec | None, texts: dict[str, Any], responses: dict[str, Any],
    values: dict[str, Any], now: float,
) -> Rendered:  # fmt: skip
    """The conversation ``spec`` as Rasa events (none after ``now``), with its handoff and survey rows."""
    email = customer.email if customer else "sam@demo.example"
    first = customer.name.split()[0] if customer else "there"
    script = Script(spec, texts, responses, {**values, "email": email, "first_name": first}, until=now)
    script.session_start()
    if spec.greet:
        script.greet(customer)
    story = spec.story
    if story == "answered":
        script.question(spec.topic)
        script.ending(spec.ending)
    elif story in ("form_done", "abandoned"):
        form = script.open_form(spec.topic)
        if story == "form_done":
            script.finish_form(spec.topic, form)
            script.ending(spec.ending)
    elif story == "fallback_recovered":
        script.not_understood()
        script.question(spec.topic)
        script.ending("thanks")
    elif story == "fallback_left":
        script.not_understood()
    elif story == "fallback_handoff":
        script.not_understood()
        script.not_understood(second=True)
        script.user(script.rng.choice(texts["affirm"]), "affirm")
        _handoff(script, "action_handoff")
    elif story == "handoff":
        _handoff_story(script, spec)
    if spec.survey is not None and spec.handoff is None:
        script.survey(spec.survey, "bot_resolved")
    return script.out


def _handoff_story(script: Script, spec: ConversationSpec) -> None:
    assert spec.handoff is not None
    cause = spec.handoff.cause
    if script.rng.random() < 0.45 and cause != "troubleshooting_failed":
        script.question(spec.topic)  # something the bot answered first
    entry = script.texts["handoffs"][cause]
    if cause == "troubleshooting_failed":
        form = script.texts["forms"]["connectivity_issue"]
        script.user(script.rng.choice(entry["texts"]), "connectivity_issue")
        script.act(form["form"])
        script.add(ActiveLoop(form["form"]))
        script.add(SlotSet("requested_slot", "ts_restart_fixed"))
        script.say("utter_ask_ts_restart_fixed")
        script.listen()
        script.user("no, still nothing", "deny")
        script.act(form["form"])
        script.add(SlotSet("ts_restart_fixed", False))
        script.add(SlotSet("requested_slot", "ts_cables_fixed"))
        script.say("utter_ask_ts_cables_fixed")
        script.listen()
        script.user("no it's still not working", "deny")
        script.act(form["form"])
        script.add(SlotSet("ts_cables_fixed", False))
        script.add(SlotSet("requested_slot", None))
        script.add(ActiveLoop(None))
        _handoff(script, "action_troubleshoot_result")
        return
    intent = "complaint" if cause == "upset" else cause
    anger = round(script.rng.uniform(0.66, 0.95), 2) if cause == "upset" else None
    script.user(script.rng.choice(entry["texts"]), intent, anger=anger)
    _handoff(script, "action_handoff", anger=anger)


def _handoff(script: Script, action: str, anger: float | None = None) -> None:
    """From the action that opens the handoff to its end, as the plan says it goes."""
    spec = script.spec
    assert spec.handoff is not None
    plan = spec.handoff
    reason = str(script.texts["handoffs"][plan.cause]["reason"]).replace("{anger}", f"{anger or 0.8:.2f}")
    policy = "UpsetCustomerPolicy" if anger else "RulePolicy"
    script.act(action, policy=policy)
    requested = script.t
    packet_events = [event.as_dict() for event in script.out.events]
    row: dict[str, Any] = {
        "conversation_id": spec.sender, "channel": spec.channel, "reason": reason, "status": plan.outcome,
        "relay_after": max(float(e["timestamp"]) for e in packet_events), "created_at": utc(requested),
        "packet": _packet(spec, reason, packet_events),
    }  # fmt: skip
    script.out.handoff = row
    if plan.outcome == "after_hours":
        script.add(SlotSet("handoff_reason", reason))
        script.add(FollowupAction("action_handoff_unanswered"))
        _unanswered(script, row, "utter_team_offline")
        return
    script.say("utter_handoff", wait_minutes=3)
    script.custom({"handoff": {"state": "waiting"}})
    script.add(SlotSet("handoff_reason", reason))
    script.add(ConversationPaused())
    if plan.outcome == "timed_out":
        if script.rng.random() < 0.5:
            script.user(script.rng.choice(script.texts["while_waiting"]), "inform")
        script.t = requested + CLAIM_TIMEOUT + script.rng.uniform(1, 14)
        _back_with_bot(script, "EXTERNAL_handoff_unanswered")
        script.act("action_handoff_unanswered")
        _unanswered(script, row, "utter_no_agent_free", acted=True)
        return
    if plan.outcome == "waiting":
        return
    if script.rng.random() < 0.3:
        script.user(script.rng.choice(script.texts["while_waiting"]), "inform")
    script.t = max(script.t, requested + plan.claim_after)
    agent_id, agent_name = plan.agent or ("U0DEMOAGT1", "Priya")
    row.update(
        claimed_by=agent_id, claimed_by_name=agent_name, claimed_at=utc(script.t), desk_channel="C0DEMODESK"
    )
    joined = script.response_text("utter_agent_joined", agent_name=agent_name)
    _agent(script, agent_id, agent_name, joined, True)
    for turn in range(plan.agent_turns):
        script.wait(20, 150)
        _agent(script, agent_id, agent_name, script.rng.choice(script.texts["agent_replies"]), False)
        if turn < plan.agent_turns - 1 or script.rng.random() < 0.7:
            script.user(script.rng.choice(script.texts["to_agent"]), "inform")
    if plan.outcome == "claimed":
        return
    script.wait(30, 240)
    row.update(status="resolved", resolved_at=utc(script.t), resolved_by_name=agent_name)
    _back_with_bot(script, "EXTERNAL_handoff_resolved")
    script.act("action_handoff_resolved")
    script.say("utter_back_with_bot")
    script.custom({"handoff": {"state": "bot"}})
    script.add(SlotSet("handoff_reason", None))
    if spec.survey is not None:
        script.survey(spec.survey, "after_agent")
        assert script.out.survey is not None
        script.out.survey.update(agent_name=agent_name, handoff_reason=reason)
    else:
        script.listen()


def _agent(script: Script, agent_id: str, name: str, text: str, joined: bool) -> None:
    """A message from the agent's desk, recorded by Rasa's API as the relay sends it."""
    if joined:
        script.wait(1, 4)
    metadata = {
        "handoff_id": None,
        "agent_id": agent_id,
        "agent_name": name,
        "outbox_id": None,
        "desk": "slack",
    }
    data = {"custom": {"handoff": {"state": "agent", "agent": name}}} if joined else {}
    event = script.add(BotUttered(text, data, metadata))
    script.out.agent_messages.append(event)  # type: ignore[arg-type]


def _back_with_bot(script: Script, intent: str) -> None:
    """The relay un-pauses the conversation and triggers an external intent (bot/handoff/rasa_api.py)."""
    script.add(ConversationResumed())
    script.act("action_listen", policy=None)
    trigger = UserUttered.create_external(intent, input_channel=script.spec.channel)
    script.add(trigger)
    script.wait(0.2, 0.8)


def _unanswered(script: Script, row: dict[str, Any], first: str, acted: bool = False) -> None:
    """Nobody can take over: say so, offer to take a message (actions/handoff.py ActionHandoffUnanswered)."""
    if not acted:
        script.act("action_handoff_unanswered", policy=None)
    script.say(first)
    script.say("utter_offer_message")
    script.custom({"handoff": {"state": "bot"}})
    script.listen()
    plan = script.spec.handoff
    assert plan is not None
    if not plan.leaves_message:
        return
    script.user(script.rng.choice(script.texts["affirm"]), "affirm")
    script.act("followup_form")
    script.add(ActiveLoop("followup_form"))
    script.add(SlotSet("requested_slot", "followup_message"))
    script.say("utter_ask_followup_message")
    script.listen()
    message = script.rng.choice(script.texts["followups"])
    script.user(message, "inform", counted=False)
    script.act("followup_form")
    script.add(SlotSet("followup_message", message))
    script.add(SlotSet("requested_slot", None))
    script.add(ActiveLoop(None))
    script.act("action_save_followup")
    script.say("utter_followup_saved")
    script.listen()
    row["followup_message"] = redact(message)


def _packet(spec: ConversationSpec, reason: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """What the agent's card shows (bot/context.py ContextPacket.to_dict, without a customer lookup)."""
    transcript = to_jsonable(transcript_from_events(events))
    return {
        "conversation_id": spec.sender, "channel": spec.channel, "reason": reason, "customer": None,
        "orders": [], "recent_conversations": [], "transcript": transcript, "slots": {}, "unverified": [],
        "detected_intents": [
            {"intent": line.get("intent"), "confidence": line.get("confidence") or 0.0}
            for line in transcript if line.get("role") == "customer" and line.get("intent")
        ],
        "sentiment": None,
    }  # fmt: skip
