"""Custom actions for the Hearthlink assistant (served by ``rasa run actions``).

Importing the package also puts the secret-redacting filter on the action server's log
handlers: actions log customer input at debug level, and card numbers or passwords must
never reach a log file.
"""

import logging

from bot.handoff.redact import RedactingFilter

_REDACTING = RedactingFilter()
for _handler in logging.getLogger().handlers:
    if not any(isinstance(f, RedactingFilter) for f in _handler.filters):
        _handler.addFilter(_REDACTING)
