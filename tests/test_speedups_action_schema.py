"""The compiled-once action-reply validation accepts and rejects exactly what Rasa's did."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from bot.speedups import action_schema

GOOD = [
    {"events": [], "responses": []},
    {
        "events": [{"event": "slot", "name": "order_number", "value": "HL-100982", "timestamp": None}],
        "responses": [{"response": "utter_greet"}, {"text": "Hi"}],
    },
    {},
]
BAD = [
    {"events": "not a list"},
    {"events": [{"no_event_key": 1}]},
    {"events": [{"event": "no_such_event"}]},
    {"responses": ["a string, not an object"]},
    [],
]


def _action() -> RemoteAction:
    return RemoteAction("action_check_order", EndpointConfig("http://127.0.0.1:1/webhook"))


def _rasa_verdict(reply: object) -> bool:
    try:
        validate(reply, RemoteAction.action_response_format_spec())
        return True
    except ValidationError:
        return False


@pytest.fixture(scope="module", autouse=True)
def patched() -> None:
    action_schema.apply()
    action_schema.apply()  # idempotent


@pytest.mark.parametrize("reply", GOOD)
def test_a_valid_reply_passes(reply: dict) -> None:
    assert _rasa_verdict(reply) is True
    assert _action()._validate_action_result(reply) is True


@pytest.mark.parametrize("reply", BAD)
def test_a_malformed_reply_is_still_rejected_with_rasas_hint(reply: object) -> None:
    assert _rasa_verdict(reply) is False
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        _action()._validate_action_result(reply)  # type: ignore[arg-type]


def test_the_patch_is_in_place() -> None:
    assert RemoteAction._supportbot_compiled_schema is True  # type: ignore[attr-defined]
