"""Customer-facing texts that our own code sends, read from ``domain.yml`` → ``responses:``.

Rasa utters most texts itself, but a few are sent by code that runs outside a dialogue
turn: a channel answering an empty message before NLU, the X channel moving a public reply
to DM, the relay telling the customer that an agent joined. Those texts live in domain.yml
too, next to every other text, so a support lead edits one file; this module looks them up
and fills ``{placeholders}`` the way Rasa does (``{name}`` → the value), once and only once:
a value that itself contains ``{…}`` (customer or agent text) is never expanded again.

The file is parsed once per process (a text changes with a restart, like the model).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.settings import project_root

_PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")  # Rasa's own rule (rasa.core.nlg.interpolator)


class ResponseError(LookupError):
    """A response our code sends is missing from domain.yml or lacks a value it needs."""


def domain_file() -> Path:
    return project_root() / "domain.yml"


@lru_cache(maxsize=4)
def _responses(path: Path) -> dict[str, list[dict[str, Any]]]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return dict(document.get("responses") or {})


def names() -> set[str]:
    """Every response name in domain.yml."""
    return set(_responses(domain_file()))


def template(name: str, channel: str | None = None, language: str | None = None) -> str:
    """The unfilled text of response ``name``: its variation for ``channel`` and ``language``
    (the ``language`` slot condition, as Rasa picks it) if it has one, else its first
    variation without a channel and without a condition (Rasa picks at random; ours have one)."""
    variations = _responses(domain_file()).get(name)
    if not variations:
        raise ResponseError(f"domain.yml has no response {name!r}: add it under 'responses:'")
    with_text = [v for v in variations if isinstance(v, dict) and v.get("text")]
    in_language = [v for v in with_text if language and language_of(v) == language]
    plain = [v for v in with_text if not v.get("condition")]
    for pool in (in_language, plain):
        chosen = [v for v in pool if channel and v.get("channel") == channel]
        chosen = chosen or [v for v in pool if not v.get("channel")]
        if chosen:
            return str(chosen[0]["text"])
    raise ResponseError(f"domain.yml response {name!r} has no text variation for every channel")


def language_of(variation: dict[str, Any]) -> str | None:
    """The value of a ``language`` slot condition on a response variation, if it has one."""
    for condition in variation.get("condition") or ():
        if isinstance(condition, dict) and condition.get("name") == "language":
            return str(condition.get("value"))
    return None


def fill(text: str, values: dict[str, Any], *, name: str = "response") -> str:
    """``{placeholder}`` → ``values[placeholder]``, in one pass (values are never re-read)."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise ResponseError(f"{name} in domain.yml needs a value for {{{key}}}")
        return str(values[key])

    return _PLACEHOLDER.sub(value, text)


def render(name: str, channel: str | None = None, language: str | None = None, **values: Any) -> str:
    """Response ``name`` from domain.yml with its placeholders filled from ``values``."""
    return fill(template(name, channel, language), values, name=name)
