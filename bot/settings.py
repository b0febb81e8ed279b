"""The bot's settings: the one module that reads the environment.

Why one module: a newcomer (or an operator at 3 a.m.) should find every knob in one list
— ``docs/configuration.md``, which a test keeps equal to the dataclasses below — and get
an error that names the variable and the fix instead of a ``ValueError`` from deep inside
a server. Each field says where its value comes from (``env``: an environment variable;
``yaml``: a key in one of our YAML files), its default and what it means.

One rule for secrets, Slack and X alike: a value in the YAML file (``business.yml`` →
``slack:``, ``credentials.yml`` → ``bot.channels.x.XInput:``) wins, else the environment
variable of the same setting; a YAML value may be ``${VAR}`` (or ``${VAR:-default}``),
expanded from the environment, so secrets never have to be written into a file.

Loaded once per process: :func:`settings` is cached on the values of the variables it
reads, so a process that changes its own environment (``run --production`` exports its
store URLs to the servers it starts; tests switch files) gets fresh settings exactly then.
"""

from __future__ import annotations

import os
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, Field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

# What child processes get unless the user set otherwise: the sentence-embedding model is
# installed with the bot, so Hugging Face must not phone home; tokenizers' own threads fight
# Rasa's for the cores (and warn after a fork); Rasa 3.6 sends usage telemetry to its vendor
# by default and prints a banner about it on the first run (RASA_TELEMETRY_ENABLED=true opts in).
# One OpenMP thread (torch's MiniLM pass, BLAS): on 2 cores a second thread spins against the
# event loop and the other processes; measured (issue 14, bench/latency.py, one process) the
# same p50 at one conversation, ~25 % more messages/s at ten and less CPU per message.
LIBRARY_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "RASA_TELEMETRY_ENABLED": "false",
    "OMP_NUM_THREADS": "1",
}


from bot.settings_sections import (  # noqa: E402  (re-exported: the one place to import settings from)
    PROJECT_ROOT,
    SECTIONS,
    DatabaseSettings,
    PathSettings,
    ProductionSettings,
    RasaSettings,
    SecuritySettings,
    Settings,
    SettingsError,
    WorkerSettings,
    meta,
)

__all__ = [
    "PROJECT_ROOT", "SECTIONS", "DatabaseSettings", "PathSettings", "ProductionSettings", "RasaSettings",
    "SecuritySettings", "Settings", "SettingsError", "WorkerSettings", "meta",
]  # fmt: skip


# --------------------------------------------------------------------------- loading


def settings() -> Settings:
    """The settings of this process (parsed once for the current values of its variables)."""
    return _load(tuple((name, os.environ.get(name)) for name in _ENV_NAMES))


@lru_cache(maxsize=16)
def _load(snapshot: tuple[tuple[str, str | None], ...]) -> Settings:
    env = {name: value for name, value in snapshot if value is not None}
    loaded = Settings(*(build(cls, env) for cls in SECTIONS))
    if loaded.paths.business_file and not loaded.paths.business_file.is_file():
        raise SettingsError(
            f"SUPPORTBOT_BUSINESS_FILE={str(loaded.paths.business_file)!r} is not a file; point it at a "
            "copy of business.yml or unset it"
        )
    return loaded


def build(cls: type, env: Mapping[str, str], section: Mapping[str, Any] | None = None) -> Any:
    """``cls`` from a YAML ``section`` (already expanded) and, for keys it lacks, ``env``."""
    hints = typing.get_type_hints(cls)
    values = {}
    for item in fields(cls):
        raw, name = _raw(item, env, section or {})
        if raw is not None and str(raw).strip() != "":
            values[item.name] = _convert(str(raw).strip(), hints[item.name], item, name)
    return cls(**values)


def _raw(item: Field[Any], env: Mapping[str, str], section: Mapping[str, Any]) -> tuple[Any, str]:
    """The value and the name to quote in an error: the YAML key if the file sets it, else the variable."""
    key = item.metadata.get("yaml")
    if key and section.get(key.rsplit(".", 1)[-1]) not in (None, ""):
        return section[key.rsplit(".", 1)[-1]], key
    name = item.metadata.get("env")
    return (env.get(name) if name else None), str(name)


def _convert(raw: str, hint: Any, item: Field[Any], name: str) -> Any:
    example = item.default if item.default not in (None, MISSING, "") else item.metadata.get("example")
    kinds = set(typing.get_args(hint)) or {hint}
    if item.metadata.get("kind") == "port":
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise SettingsError(f"{name}={raw!r} is not a port number; set it to e.g. {example or 8080}")
        return int(raw)
    if Path in kinds:
        return Path(raw).expanduser()
    if bool in kinds:
        if raw.lower() not in {"true", "false", "1", "0", "yes", "no", "on", "off"}:
            raise SettingsError(f"{name}={raw!r} is not true or false; set it to true or false")
        return raw.lower() in {"true", "1", "yes", "on"}
    if int in kinds:
        if not raw.isdigit():
            raise SettingsError(f"{name}={raw!r} is not a whole number; set it to e.g. {example or 10}")
        return int(raw)
    return raw


def without_secrets(cls: type) -> type:
    """Class decorator: ``repr`` shows ``***`` for secret fields, so a logged setting leaks nothing."""

    def __repr__(self: Any) -> str:
        def shown(item: Field[Any]) -> str:
            value = getattr(self, item.name)
            return "***" if item.metadata.get("secret") and value else repr(value)

        return f"{type(self).__name__}({', '.join(f'{f.name}={shown(f)}' for f in fields(self))})"

    cls.__repr__ = __repr__  # type: ignore[method-assign]
    return cls


def env_names(sections: Iterable[type]) -> tuple[str, ...]:
    """The environment variables the fields of ``sections`` read."""
    return tuple(f.metadata["env"] for cls in sections for f in fields(cls) if f.metadata.get("env"))


_ENV_NAMES = env_names(SECTIONS)
for _section in SECTIONS:
    without_secrets(_section)


# --------------------------------------------------------------------------- YAML values

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand(value: Any, *, where: str = "", strict: bool = True) -> Any:
    """``${VAR}`` / ``${VAR:-default}`` in strings (also inside lists and mappings) from the environment.

    ``strict``: an unset variable without a default is an error naming it and where it is
    used; otherwise the reference stays as written (what ``os.path.expandvars`` does).
    """
    if isinstance(value, Mapping):
        return {
            key: expand(item, where=f"{where}.{key}".strip("."), strict=strict) for key, item in value.items()
        }
    if isinstance(value, list):
        return [expand(item, where=where, strict=strict) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found is not None:
            return found
        if default is not None:
            return default
        if strict:
            raise SettingsError(
                f"{where or 'a setting'} is ${{{name}}}, but {name} is not set: export {name}=… "
                f"or write ${{{name}:-}} for an empty default"
            )
        return match.group(0)

    return _REFERENCE.sub(replace, value)


def yaml_section(path: Path, key: str) -> dict[str, Any]:
    """Section ``key`` of YAML file ``path`` with ``${VAR}`` expanded ({} if file or key is missing)."""
    if not path.is_file():
        return {}
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    section = document.get(key) if isinstance(document, dict) else None
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise SettingsError(f"{path}: '{key}:' must be a mapping of settings, not {type(section).__name__}")
    return expand(section, where=f"{path.name}: {key}")


# --------------------------------------------------------------------------- for other modules


def project_root() -> Path:
    """The checkout (or image directory) holding ``domain.yml``, ``config.yml`` and ``nlu_data/``."""
    return settings().project_root


def data_dir() -> Path:
    """Writable directory for the embedded SQLite databases (created on first use)."""
    path = settings().data_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def customer_database_url() -> str:
    """SQLAlchemy URL of the customer store: ``SUPPORTBOT_DATABASE_URL`` or a local SQLite file."""
    if not settings().database.url:
        data_dir()  # the SQLite file's directory must exist
    return settings().database_url


def cache_dir() -> Path:
    """Cache shared between checkouts (trained models keyed by content hash)."""
    path = settings().cache_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def business_file() -> Path:
    """The business.yml in use: ``SUPPORTBOT_BUSINESS_FILE`` or ``business.yml`` in the project root."""
    return settings().business_file


def environment(names: Iterable[str]) -> dict[str, str]:
    """The variables among ``names`` that are set (for bot/credentials.py: Slack and X)."""
    return {name: os.environ[name] for name in names if name in os.environ}


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a process we start: ours, the library defaults, then ``extra``."""
    return {**LIBRARY_DEFAULTS, **os.environ, **(extra or {})}


def export(values: Mapping[str, str]) -> None:
    """Put ``values`` into this process's environment, for itself and every process it starts."""
    os.environ.update(values)


def apply_library_defaults() -> None:
    """Set :data:`LIBRARY_DEFAULTS` in this process unless the user set them (before importing them)."""
    for name, value in LIBRARY_DEFAULTS.items():
        os.environ.setdefault(name, value)
