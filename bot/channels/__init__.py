"""Customer channels: Rasa input/output channels for X, the website chat and REST.

Rasa imports this package when it loads credentials.yml, after it has configured logging,
so importing it also puts the secret-redacting filter (bot.redact) on the Rasa server's log
handlers: what customers type reaches Rasa's logs (at debug level, and in tracebacks).
"""

from bot.redact import install_log_redaction

install_log_redaction()
