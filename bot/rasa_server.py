"""``python -m bot.rasa_server run …``: Rasa's own command, with its API token kept off the command line.

Rasa 3.6 takes the HTTP API's token only as ``--auth-token``, and a process's command line
is readable by every user of the machine (``ps``). This wrapper adds the flag inside the
process from ``RASA_AUTH_TOKEN`` (whose environment only its owner can read) and hands
over to Rasa's command line unchanged, after applying the speed-ups of bot/speedups/.
"""

from __future__ import annotations

import sys

from bot.settings import settings


def rasa_argv(arguments: list[str], token: str) -> list[str]:
    """Rasa's command line with the token as one ``--auth-token=<token>`` argument.

    Why one argument: a generated token starts with "-" one time in 64 (token_urlsafe), and
    ``--auth-token -abc…`` makes argparse read the token as another option: Rasa exited with
    "expected one argument" (seen in CI).
    """
    return ["rasa", *arguments, f"--auth-token={token}"]


def apply_speedups() -> bool:
    """bot/speedups/ (less work per message, same behaviour) unless SUPPORTBOT_RASA_SPEEDUPS=false."""
    if not settings().rasa.speedups:
        return False
    from bot.speedups import apply_all

    apply_all()
    return True


def main() -> None:
    token = settings().rasa.auth_token
    if not token:
        sys.exit("error: RASA_AUTH_TOKEN is not set; start the bot with `python -m bot run` (it sets one)")
    sys.argv = rasa_argv(sys.argv[1:], token)
    apply_speedups()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
