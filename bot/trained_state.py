"""Plain-JSON state of our trained components and policies, in their Rasa model resource.

Why one helper: several of our graph components keep what they learnt at training (a
vocabulary, n-gram statistics, the actions that end a turn) as one JSON file; writing and
reading it the same way keeps the model archive free of pickles and makes "untrained" mean
the same thing everywhere (the resource or its file is missing).
"""

from __future__ import annotations

import json
from typing import Any

from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

_REQUIRED = object()


def save_json(model_storage: ModelStorage, resource: Resource, name: str, data: Any) -> None:
    """Write ``data`` as ``name`` into the component's resource."""
    with model_storage.write_to(resource) as directory:
        (directory / name).write_text(json.dumps(data), encoding="utf-8")


def load_json(model_storage: ModelStorage, resource: Resource, name: str, default: Any = _REQUIRED) -> Any:
    """Read what :func:`save_json` wrote; ``default`` when it is missing (else the error is raised)."""
    try:
        with model_storage.read_from(resource) as directory:
            return json.loads((directory / name).read_text(encoding="utf-8"))
    except (ValueError, FileNotFoundError):
        if default is _REQUIRED:
            raise
        return default
