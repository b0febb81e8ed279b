"""``python -m bot`` is the ``supportbot`` command."""

import sys

from bot.cli import main

sys.exit(main())
