"""Two requests in one message: the splitter, the NLU component and the policy's decision (no model)."""

from __future__ import annotations

import pytest
import yaml
from rasa.shared.core.constants import ACTION_LISTEN_NAME, RULE_SNIPPET_ACTION_NAME
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.clauses import CLAUSES, clause_messages, clause_spans, split_clauses
from bot.nlu.second_request import ENTITY, SecondRequestDetector, second_request
from bot.second_request_policy import conversation_steps, next_offer, turn_ends
from tests.support import ROOT

OFFERS = {"start_return": "utter_offer_second_return", "order_status": "utter_offer_second_order_status"}
ENDS = frozenset({"action_troubleshoot_result", "action_return_policy", "utter_anything_else"})


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        (
            "my wifi keeps dropping and honestly should I just return the router for a refund?",
            ["my wifi keeps dropping", "should I just return the router for a refund?"],
        ),
        ("where is my order? also can I return it", ["where is my order?", "can I return it"]),
        ("the hub is offline, plus my invoice is missing", ["the hub is offline", "my invoice is missing"]),
        ("my router drops btw what are your hours", ["my router drops", "what are your hours"]),
        ("I want to return it. And also where is my order?", ["I want to return it.", "where is my order?"]),
    ],
)
def test_two_requests_are_split_into_their_clauses(text: str, clauses: list[str]) -> None:
    assert split_clauses(text) == clauses
    assert [text[s:e] for s, e in clause_spans(text)] == clauses


@pytest.mark.parametrize(
    "text",
    ["I also want to return it", "thanks, bye", "where is my order", "", "👍", "ok. thanks!", "yes. no. ok."],
)
def test_one_request_is_not_split(text: str) -> None:
    """Fragments of fewer than three words are not requests: nothing to split."""
    assert split_clauses(text) == []


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        ("mi wifi se cae todo el rato. También quiero devolver el router",
         ["mi wifi se cae todo el rato.", "quiero devolver el router"]),
        ("¿dónde está mi pedido? Además, olvidé mi contraseña",
         ["¿dónde está mi pedido?", "olvidé mi contraseña"]),
        ("mi wifi se corta cada hora y también quiero devolver la cámara",
         ["mi wifi se corta cada hora", "quiero devolver la cámara"]),
        ("quiero devolver el enchufe inteligente, por cierto, ¿dónde está mi otro pedido?",
         ["quiero devolver el enchufe inteligente", "¿dónde está mi otro pedido?"]),
        ("el router se desconecta constantemente y ¿puedo devolverlo para un reembolso?",
         ["el router se desconecta constantemente", "¿puedo devolverlo para un reembolso?"]),
        ("mi pedido no ha llegado y podría devolver la cámara?",
         ["mi pedido no ha llegado", "podría devolver la cámara?"]),
        ("olvidé mi contraseña y dónde está mi pedido HL-104233",
         ["olvidé mi contraseña", "dónde está mi pedido HL-104233"]),
        ("Mein WLAN bricht ständig ab. Außerdem möchte ich den Router zurückgeben.",
         ["Mein WLAN bricht ständig ab.", "möchte ich den Router zurückgeben."]),
        ("Wo ist meine Bestellung? Übrigens, ich habe mein Passwort vergessen",
         ["Wo ist meine Bestellung?", "ich habe mein Passwort vergessen"]),
        ("mein Router verliert dauernd die Verbindung und kann ich ihn zurückschicken?",
         ["mein Router verliert dauernd die Verbindung", "kann ich ihn zurückschicken?"]),
        ("ich habe mein Passwort vergessen, außerdem wo bleibt mein Paket?",
         ["ich habe mein Passwort vergessen", "wo bleibt mein Paket?"]),
        ("Meine Bestellung ist noch nicht da und auch möchte ich die Kamera zurückgeben",
         ["Meine Bestellung ist noch nicht da", "möchte ich die Kamera zurückgeben"]),
        ("das Internet fällt ständig aus und wo ist meine Bestellung HL-104233?",
         ["das Internet fällt ständig aus", "wo ist meine Bestellung HL-104233?"]),
    ],
)  # fmt: skip
def test_spanish_and_german_two_requests_are_split(text: str, clauses: list[str]) -> None:
    assert split_clauses(text) == clauses


@pytest.mark.parametrize(
    "text",
    [
        # "auch", "übrigens", "außerdem", "también", "además" inside a clause (word order), not
        # at its start: cutting there would leave two long fragments of one request
        "mein Router funktioniert auch nach dem Neustart nicht",
        "mein Paket ist übrigens immer noch nicht angekommen",
        "Mein Router ist außerdem sehr langsam geworden",
        "ich habe auch ein Problem mit dem Router",
        "la cámara también se desconecta del wifi cada noche",
        "mi pedido además llegó con la caja rota",
        # "und auch"/"y también" that qualify a phrase, not a new request
        "der Router geht nicht und auch nicht nach dem Neustart",
        "Das WLAN fällt aus, auch wenn ich direkt neben dem Router sitze",
        "el wifi se cae en el móvil y también en el portátil",
        # "y"/"und" + a word that also opens a question, in a statement
        "quiero devolver el smart plug y que me reembolsen",
        "se desconecta y cuando lo reinicio vuelve a funcionar un rato",
        "reinicié el router y puedo navegar pero muy lento",
        "Ich habe den Router neu gestartet und kann trotzdem nicht surfen",
        "das WLAN fällt ständig aus und wie gesagt der Router ist neu",
        "das Licht blinkt rot und wie erwartet funktioniert nichts",
    ],
)
def test_one_spanish_or_german_request_is_not_split(text: str) -> None:
    assert split_clauses(text) == []


def test_the_clauses_are_made_once_and_kept_on_the_message() -> None:
    message = Message(data={TEXT: "my wifi drops all the time. also where is my order"})
    first = clause_messages([message])
    assert [c.get(TEXT) for c in first] == ["my wifi drops all the time.", "where is my order"]
    assert clause_messages([message]) == first
    assert clause_messages([Message(data={TEXT: "where is my order"})]) == []


def test_a_confident_other_offerable_intent_is_the_second_request() -> None:
    offers = frozenset(OFFERS)
    clauses = [("connectivity_issue", 0.99, (0, 10)), ("start_return", 0.92, (15, 40))]
    assert second_request("connectivity_issue", clauses, offers, 0.8) == ("start_return", 0.92, (15, 40))
    assert second_request("connectivity_issue", clauses, offers, 0.95) is None  # not confident enough
    assert second_request("start_return", clauses, offers, 0.8) is None  # the message's own request
    assert second_request("nlu_fallback", clauses, offers, 0.8) is None  # the message was not understood
    small_talk = [("connectivity_issue", 0.99, (0, 10)), ("thank", 0.99, (15, 40))]
    assert second_request("connectivity_issue", small_talk, offers, 0.8) is None  # never offered


def _ranked(text: str, intent: str, confidence: float) -> Message:
    return Message(data={TEXT: text, INTENT: {"name": intent, "confidence": confidence}})


def test_the_component_adds_the_entity_for_the_clause_and_drops_the_clauses() -> None:
    text = "my wifi keeps dropping and should I return the router?"
    message = _ranked(text, "connectivity_issue", 0.97)
    first, second = clause_messages([message])
    first.set(INTENT, {"name": "connectivity_issue", "confidence": 0.99})
    second.set(INTENT, {"name": "start_return", "confidence": 0.9})
    detector = SecondRequestDetector({"threshold": 0.8, "offer": OFFERS})

    detector.process([message])

    [entity] = message.get(ENTITIES)
    assert (entity["entity"], entity["value"]) == (ENTITY, "start_return")
    assert text[entity["start"] : entity["end"]] == "should I return the router?"
    assert message.get(CLAUSES) is None  # not carried into the tracker
    single = _ranked("where is my order", "order_status", 0.99)
    detector.process([single])
    assert not single.get(ENTITIES)


def test_the_end_of_the_bots_turn_is_learnt_from_rules_and_stories() -> None:
    def user(intent: str) -> UserUttered:
        return UserUttered(intent={"name": intent})

    def act(name: str) -> ActionExecuted:
        return ActionExecuted(name)

    conversations = [
        [act(ACTION_LISTEN_NAME), user("complaint"), act("utter_complaint"), act("utter_offer_human")],
        [act(RULE_SNIPPET_ACTION_NAME), act(ACTION_LISTEN_NAME), user("start_return"), act("return_form")],
        [act("return_form"), act("action_check_return")],
        [act("action_check_return"), act(ACTION_LISTEN_NAME), user("thank"), act("utter_you_are_welcome")],
        [act("utter_complaint"), act("utter_offer_human"), act(ACTION_LISTEN_NAME), user("affirm")],
    ]
    # utter_offer_human asks a yes/no question: an offer after it would leave two open
    assert turn_ends(conversations) == {"action_check_return", "utter_you_are_welcome"}


def _steps(*items: tuple[str, ...]) -> list[tuple[str, ...]]:
    return list(items)


ASKED = ("user", "connectivity_issue", "start_return")


def test_the_offer_comes_when_the_first_flow_is_done_and_only_once() -> None:
    steps = _steps(ASKED, ("action", "troubleshoot_form"), ("action", ACTION_LISTEN_NAME),
                   ("user", "affirm", None), ("action", "troubleshoot_form"),
                   ("action", "action_troubleshoot_result"))  # fmt: skip
    assert next_offer(steps, OFFERS, ENDS) == "utter_offer_second_return"
    assert next_offer(steps[:2], OFFERS, ENDS, loop="troubleshoot_form") is None  # the form is going
    assert next_offer(steps, OFFERS, ENDS, survey_waiting=True) is None  # a survey waits for its answer
    made = [*steps, ("action", "utter_offer_second_return"), ("action", ACTION_LISTEN_NAME),
            ("user", "deny", None), ("action", "utter_anything_else")]  # fmt: skip
    assert next_offer(made, OFFERS, ENDS) is None


@pytest.mark.parametrize(
    "steps",
    [
        [ASKED, ("action", "troubleshoot_form")],  # not the end of the bot's turn
        [ASKED, ("action", "action_handoff"), ("action", "action_troubleshoot_result")],  # a person has it
        [ASKED, ("action", "action_troubleshoot_result"), ("action", ACTION_LISTEN_NAME),
         ("user", "start_return", None), ("action", "action_return_policy")],  # asked for it themselves
        [("user", "connectivity_issue", None), ("action", "action_troubleshoot_result")],  # nothing else
        [("user", "connectivity_issue", "thank"), ("action", "action_troubleshoot_result")],  # small talk
    ],
)  # fmt: skip
def test_no_offer_otherwise(steps: list[tuple[str, ...]]) -> None:
    assert next_offer(steps, OFFERS, ENDS) is None


def test_the_steps_read_the_entity_from_the_message() -> None:
    asked = {"entity": ENTITY, "value": "start_return", "start": 0, "end": 5}
    events = [ActionExecuted(ACTION_LISTEN_NAME), UserUttered("x", {"name": "connectivity_issue"}, [asked])]
    assert conversation_steps(events) == [("action", ACTION_LISTEN_NAME), ASKED]


def test_every_offer_is_a_response_in_three_languages_with_its_rules() -> None:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    [detector] = [c for c in config["pipeline"] if c["name"].endswith("SecondRequestDetector")]
    [policy] = [p for p in config["policies"] if p["name"].endswith("SecondRequestPolicy")]
    assert detector["offer"] == policy["offer"]
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    rules = yaml.safe_load((ROOT / "nlu_data" / "rules.yml").read_text(encoding="utf-8"))["rules"]
    for intent, response in detector["offer"].items():
        assert intent in domain["intents"]
        variants = domain["responses"][response]
        languages = {c["value"] for v in variants for c in v.get("condition", [])}
        assert languages == {"es", "de"} and len(variants) == 3, response
        assert all(v["buttons"][0]["payload"] == f"/{intent}" for v in variants), response
        after = {r["steps"][1]["intent"] for r in rules if r["steps"][0] == {"action": response}}
        assert after == {"affirm", "deny"}, response
