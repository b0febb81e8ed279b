"""The Rasa server's command line carries any token, also one that starts with "-"; speed-ups can be off."""

from __future__ import annotations

import pytest

from bot.rasa_server import rasa_argv


@pytest.mark.parametrize(
    "token", ["-Wd3tq2xVb9Kq0pA1zYv7uE5rT8sN4mL6cH2jG0fD9k", "plain-token-0123456789abcdefghijklmnop"]
)
def test_rasas_own_parser_reads_the_token_whatever_its_first_character(token: str) -> None:
    from rasa.__main__ import create_argument_parser

    argv = rasa_argv(["run", "--enable-api", "--port", "5005"], token)
    arguments = create_argument_parser().parse_args(argv[1:])
    assert arguments.auth_token == token and arguments.port == 5005


def test_the_speedups_are_applied_unless_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.shared.core.domain import Domain

    from bot.rasa_server import apply_speedups
    from bot.speedups import dialogue_states, parse_threads

    monkeypatch.setenv("SUPPORTBOT_RASA_SPEEDUPS", "false")
    assert apply_speedups() is False
    assert Domain.states_for_tracker_history is dialogue_states.original()
    monkeypatch.setenv("SUPPORTBOT_RASA_SPEEDUPS", "true")
    try:
        assert apply_speedups() is True
        assert Domain.states_for_tracker_history is dialogue_states.states_for_tracker_history
    finally:
        dialogue_states.undo()
        parse_threads.remove()
