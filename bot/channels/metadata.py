"""What a customer channel keeps of the ``metadata`` a client sends with a message.

Why: Rasa stores a message's metadata in the tracker and sends the whole tracker to the
action server before every action, so an unbounded object posted once is stored for good
and re-sent on every turn of that conversation (and nested values can smuggle anything a
custom action later trusts). A channel keeps metadata only when it is a small, flat JSON
object of plain values; anything else is dropped whole, with a warning that says why but
never what it contained (it may be personal data).
"""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger(__name__)

MAX_METADATA_BYTES = 1024  # the object as compact JSON, UTF-8
MAX_METADATA_KEYS = 10
MAX_KEY_CHARS = 64


def _problem(metadata: Any) -> str | None:
    """Why ``metadata`` is not kept, or None when it is a small flat object."""
    if not isinstance(metadata, dict):
        return f"expected a JSON object, got {type(metadata).__name__}"
    if len(metadata) > MAX_METADATA_KEYS:
        return f"{len(metadata)} keys, at most {MAX_METADATA_KEYS} are kept"
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
            return f"keys must be names of 1 to {MAX_KEY_CHARS} characters"
        if not isinstance(value, str | int | float | bool):
            return f"values must be text, numbers or true/false, not {type(value).__name__}"
    try:
        size = len(json.dumps(metadata, separators=(",", ":"), allow_nan=False).encode("utf-8"))
    except ValueError:
        return "a number is not finite"
    if size > MAX_METADATA_BYTES:
        return f"{size} bytes, at most {MAX_METADATA_BYTES} are kept"
    return None


def bounded_metadata(metadata: Any, channel: str) -> dict[str, Any] | None:
    """``metadata`` itself when it is small and flat, else None (logged, without its content).

    A JSON text is parsed first (the web chat's Socket.IO clients may send it as a string).
    """
    if metadata is None or metadata == {} or metadata == "":
        return None
    if isinstance(metadata, str):
        if len(metadata) > MAX_METADATA_BYTES:
            problem: str | None = f"{len(metadata)} characters, at most {MAX_METADATA_BYTES} are kept"
        else:
            try:
                metadata = json.loads(metadata)
                problem = _problem(metadata)
            except ValueError:
                problem = "text that is not JSON"
    else:
        problem = _problem(metadata)
    if problem is not None:
        logger.warning("%s channel: message metadata dropped (%s)", channel, problem)
        return None
    return dict(metadata)
