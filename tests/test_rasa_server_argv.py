"""The Rasa server's command line carries any token, also one that starts with "-"."""

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
