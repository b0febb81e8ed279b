"""Custom actions for the Hearthlink assistant (served by ``rasa run actions``).

Importing the package also puts the secret-redacting filter on the action server's log
handlers: actions log customer input at debug level, and card numbers or passwords must
never reach a log file.
"""

from bot.redact import install_log_redaction

install_log_redaction()
