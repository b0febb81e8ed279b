"""The credentials our own processes use with each other, never left empty.

Why: Rasa's HTTP API can read every conversation, write to any customer in the brand's
name and load another model; the action server hands out any customer's orders; the
worker's /metrics counts conversations. None of them may answer a request without a
credential, in any mode, so there is no "no token" default to forget in production.

- The embedded default generates each token on the first start and keeps it in the data
  directory (``internal-tokens.json``, mode 0600), so restarts and every process of one
  installation agree without the user doing anything.
- ``SUPPORTBOT_ENVIRONMENT=production`` generates nothing: each token must come from the
  environment, be 32+ characters and not a published default (the old compose file's
  ``change-me-in-production``), or :func:`internal_tokens` raises a SettingsError naming it.

A token set in the environment always wins, in both modes.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from dataclasses import dataclass, fields
from pathlib import Path

from bot.settings import SettingsError, data_dir, settings

FILE_NAME = "internal-tokens.json"
MIN_LENGTH = 32
# Published in this repository's history, in docs or in other projects' examples.
KNOWN_DEFAULTS = frozenset(
    {"change-me-in-production", "changeme", "change-me", "secret", "token", "rasa", "password", "test"}
)
GENERATE_HINT = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'


@dataclass(frozen=True)
class InternalTokens:
    """One value per credential (the names of the fields are the keys of the file)."""

    rasa_auth_token: str  # RASA_AUTH_TOKEN: Rasa's HTTP API (--auth-token)
    actions_token: str  # ACTIONS_TOKEN: Rasa -> action server
    metrics_token: str  # METRICS_TOKEN: the worker's /metrics and detailed /health
    rest_token: str  # REST_CHANNEL_TOKEN: trusted integrations -> the REST channel
    webchat_secret: str  # WEBCHAT_SECRET: signs web-chat session ids

    def __repr__(self) -> str:
        return f"InternalTokens({', '.join(f'{f.name}=***' for f in fields(self))})"

    def environment(self) -> dict[str, str]:
        """The variables that hand these tokens to a child process."""
        return {ENV_NAMES[name]: getattr(self, name) for name in ENV_NAMES}


ENV_NAMES = {
    "rasa_auth_token": "RASA_AUTH_TOKEN",
    "actions_token": "ACTIONS_TOKEN",
    "metrics_token": "METRICS_TOKEN",
    "rest_token": "REST_CHANNEL_TOKEN",
    "webchat_secret": "WEBCHAT_SECRET",
}


def _configured() -> dict[str, str | None]:
    current = settings()
    return {
        "rasa_auth_token": current.rasa.auth_token,
        "actions_token": current.security.actions_token,
        "metrics_token": current.security.metrics_token,
        "rest_token": current.security.rest_token,
        "webchat_secret": current.security.webchat_secret,
    }


def check_strength(name: str, value: str) -> None:
    """Refuse a token that a stranger could guess (too short, or a published default)."""
    if value.strip().lower() in KNOWN_DEFAULTS:
        raise SettingsError(f"{name} is a published default value, which anyone can use; {GENERATE_HINT}")
    if len(value) < MIN_LENGTH:
        raise SettingsError(
            f"{name} has {len(value)} characters; it needs at least {MIN_LENGTH} to resist guessing; "
            + GENERATE_HINT
        )


def internal_tokens(directory: Path | None = None) -> InternalTokens:
    """The tokens of this installation: from the environment, else generated once and kept."""
    configured = _configured()
    production = settings().security.environment == "production"
    if production:
        missing = [ENV_NAMES[key] for key, value in configured.items() if not value]
        if missing:
            raise SettingsError(
                f"SUPPORTBOT_ENVIRONMENT=production needs {', '.join(missing)} set (nothing is generated "
                f"in production, so every process and replica agrees); {GENERATE_HINT}"
            )
    for key, value in configured.items():
        if value:
            check_strength(ENV_NAMES[key], value)
    if production:
        return InternalTokens(**{key: str(value) for key, value in configured.items()})
    stored = _stored(directory or data_dir())
    return InternalTokens(**{key: configured[key] or stored[key] for key in ENV_NAMES})


def _stored(directory: Path) -> dict[str, str]:
    """The generated tokens in ``directory``, created (0600) with any missing one added.

    Processes starting at once must end with one set of tokens, so reading, generating and
    writing happen under an exclusive lock on a file beside it (``fcntl.flock``: the lock
    goes with the process, so a crashed one never leaves it held). Why a lock and not only
    an atomic link: a process that found no file could still replace the file another had
    just created, and both then ran with different tokens: seen in a CI run, and in 5 of 25
    rounds of six processes started at once (0 of 25 with the lock).
    The file itself still appears atomically (a complete temporary file, then a rename).
    """
    directory.mkdir(parents=True, exist_ok=True)
    lock = os.open(directory / f".{FILE_NAME}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _read_or_create(directory / FILE_NAME)
    finally:
        os.close(lock)  # releases the lock


def _read_or_create(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.is_file():
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise SettingsError(
                f"{path} is not valid JSON ({exc}); delete it to generate new tokens"
            ) from exc
    missing = [key for key in ENV_NAMES if not values.get(key)]
    if not missing:
        return values
    values.update({key: secrets.token_urlsafe(32) for key in missing})
    temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(values, handle, indent=2)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return values
