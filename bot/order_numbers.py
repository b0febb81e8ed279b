"""The one definition of what an order number looks like.

The source is the ``order_number`` regex in ``nlu_data/entities.yml``: Rasa's regex
featurizer and RegexEntityExtractor learn and extract order numbers with it, and this
module compiles the same expressions for the code that needs them outside NLU — the
customer store (turning what a customer typed into the stored spelling) and the X channel
(a public reply that mentions an order number moves to DM). Change the format in
entities.yml and all three follow; a test checks that every demo order matches.

Standard library + PyYAML only: the X channel and the action server import it cheaply.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from bot.settings import project_root

ENTITY = "order_number"
# How the store spells every order number (HL- and six digits, as in demo_customers.yml).
CANONICAL_PREFIX = "HL-"


class OrderNumberPatternError(ValueError):
    """entities.yml has no usable ``order_number`` regex."""


def entities_file() -> Path:
    return project_root() / "nlu_data" / "entities.yml"


@lru_cache(maxsize=4)
def _expressions(path: Path) -> tuple[str, ...]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for item in document.get("nlu") or []:
        if isinstance(item, dict) and item.get("regex") == ENTITY:
            lines = str(item.get("examples") or "").splitlines()
            found = tuple(line.strip()[1:].strip() for line in lines if line.strip().startswith("-"))
            if found:
                return found
    raise OrderNumberPatternError(
        f"{path}: no '- regex: {ENTITY}' entry with examples; the order-number format is defined "
        "there (e.g. '(?:HL-?|#)\\d{6}\\b') and used by NLU, the customer store and the X channel"
    )


def expressions() -> tuple[str, ...]:
    """The ``order_number`` regular expressions of entities.yml, in file order."""
    return _expressions(entities_file())


@lru_cache(maxsize=4)
def _compiled(path: Path) -> re.Pattern[str]:
    # Case-insensitive like the RegexEntityExtractor (config.yml: case_sensitive: false).
    return re.compile("|".join(f"(?:{expression})" for expression in _expressions(path)), re.IGNORECASE)


def pattern() -> re.Pattern[str]:
    """One compiled pattern matching an order number anywhere in a text (any alternative)."""
    return _compiled(entities_file())


def find(text: str | None) -> str | None:
    """The first order number in ``text`` as the customer wrote it, or None."""
    match = pattern().search(text or "")
    return match.group(0) if match else None


def normalise(text: str | None) -> str | None:
    """``"#104233"``, ``"hl104233"``, ``"order 104233"`` → ``"HL-104233"``; None without one.

    The digits of the first order number found, in the store's spelling.
    """
    found = find(str(text) if text is not None else None)
    if not found:
        return None
    return CANONICAL_PREFIX + re.sub(r"\D", "", found)


def mentions_order_number(text: str) -> bool:
    return find(text) is not None
