"""``python -m bot.rasa_server run …``: Rasa's own command, with its API token kept off the command line.

Rasa 3.6 takes the HTTP API's token only as ``--auth-token``, and a process's command line
is readable by every user of the machine (``ps``). This wrapper adds the flag inside the
process from ``RASA_AUTH_TOKEN`` (whose environment only its owner can read) and hands
over to Rasa's command line unchanged.
"""

from __future__ import annotations

import sys

from bot.settings import settings


def main() -> None:
    token = settings().rasa.auth_token
    if not token:
        sys.exit("error: RASA_AUTH_TOKEN is not set; start the bot with `python -m bot run` (it sets one)")
    sys.argv = ["rasa", *sys.argv[1:], "--auth-token", token]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
