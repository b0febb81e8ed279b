"""The review file: YAML a support lead reads, edits and accepts groups from; written and read here.

It is written with ``yaml.safe_dump`` (customer text is always a quoted or block scalar, never
structure) and read back with ``yaml.safe_load`` and a shape check, because the lead may edit
it (drop an example) before accepting a group. Everything in it that a customer or an agent
wrote is already anonymised (bot/redact.py). Only PyYAML: the digest reads it in the worker.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

VERSION = 1
HEADER = """\
# What the bot missed: groups of first messages it did not understand, or that went to a person.
# Written by `python -m bot review-misses`; customer and agent text is anonymised.
# Accept a group (you may delete examples first):
#   python -m bot review-accept THIS_FILE --cluster N --as-intent NAME    (Rasa NLU examples)
#   python -m bot review-accept THIS_FILE --cluster N --as-article SLUG   (a help-center draft)
# docs/make-it-yours.md, "Learn from what the bot missed".
"""


class ReviewFileError(ValueError):
    """A review file cannot be used; the message says what is wrong and what to do."""


def write_review(document: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(HEADER + body, encoding="utf-8")


def default_path(folder: Path, now: datetime) -> Path:
    return folder / f"misses-{now:%Y-%m-%d-%H%M%S}.yml"


def latest_review(folder: Path) -> Path | None:
    """The newest review file in ``folder`` (names sort by time), or None."""
    found = sorted(folder.glob("misses-*.yml")) if folder.is_dir() else []
    return found[-1] if found else None


def load_review(path: Path) -> dict[str, Any]:
    """A review file, checked: the keys accepting and the digest use have the right shape."""
    fix = "write a new one with `python -m bot review-misses`"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReviewFileError(f"{path}: no such review file; {fix}") from None
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ReviewFileError(f"{path}: not a readable YAML file ({exc.__class__.__name__}); {fix}") from None
    if not isinstance(document, dict) or document.get("version") != VERSION:
        raise ReviewFileError(f"{path}: not a review file of version {VERSION}; {fix}")
    clusters = document.get("clusters")
    if not isinstance(clusters, list) or not all(isinstance(c, dict) for c in clusters):
        raise ReviewFileError(f"{path}: 'clusters' must be a list of groups; {fix}")
    for cluster in clusters:
        if not isinstance(cluster.get("cluster"), int) or not isinstance(cluster.get("size"), int):
            raise ReviewFileError(f"{path}: every group needs a whole-number 'cluster' and 'size'; {fix}")
        for key in ("examples", "more_examples"):
            if not _texts(cluster.get(key, [])):
                raise ReviewFileError(
                    f"{path}: cluster {cluster['cluster']}: '{key}' must be a list of texts; {fix}"
                )
    return document


def cluster_of(document: dict[str, Any], number: int, path: Path) -> dict[str, Any]:
    for cluster in document["clusters"]:
        if cluster["cluster"] == number:
            return cluster
    numbers = ", ".join(str(c["cluster"]) for c in document["clusters"]) or "none"
    raise ReviewFileError(f"{path}: there is no cluster {number} (clusters: {numbers})")


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
