"""The website chat widget's texts, from business.yml, filled into widget.js as it is served.

Visitors read the widget's buttons, status lines and handoff banner as much as the bot's
answers, so those texts are settings a support lead edits (``webchat.labels`` in
business.yml), not English kept in JavaScript. The widget keeps a placeholder object that
this module replaces with the labels as a JSON literal.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from bot.settings import business_file, yaml_section

PLACEHOLDER = "/*LABELS*/{}/*END LABELS*/"
LABEL_KEYS = (
    "title", "close", "open_chat", "close_chat", "conversation_with", "empty", "input", "placeholder",
    "send", "send_label", "typing", "agent_byline", "image_from", "the_assistant", "a_person",
    "open_attachment", "suggested_replies", "waiting_for_person", "agent_joined", "back_with_assistant",
    "connecting", "reconnecting", "unavailable",
)  # fmt: skip


class WidgetLabelsError(ValueError):
    """business.yml lacks a widget label, or the widget file lacks its placeholder."""


def widget_script(widget_file: Path, labels_file: Path | None = None) -> str:
    """widget.js with the labels of ``labels_file`` (default: the business.yml in use) filled in."""
    return _render(widget_file, labels_file or business_file())


@lru_cache(maxsize=4)
def _render(widget_file: Path, labels_file: Path) -> str:
    """Rendered once per process, like the rest of business.yml: an edit needs a restart."""
    source = widget_file.read_text(encoding="utf-8")
    if PLACEHOLDER not in source:
        raise WidgetLabelsError(f"{widget_file} has no {PLACEHOLDER} placeholder for its labels")
    return source.replace(PLACEHOLDER, script_literal(load_labels(labels_file)), 1)


def load_labels(path: Path) -> dict[str, str]:
    """``webchat.labels`` of a business.yml, checked to have every label the widget shows."""
    labels = yaml_section(path, "webchat").get("labels") or {}
    missing = [key for key in LABEL_KEYS if not isinstance(labels.get(key), str)]
    if missing:
        raise WidgetLabelsError(
            f"{path}: webchat.labels needs a text for {', '.join(missing)} "
            "(the shipped business.yml lists every label the website chat shows)"
        )
    return {key: labels[key] for key in LABEL_KEYS}


def script_literal(labels: dict[str, str]) -> str:
    """A JSON object that is also safe JavaScript source, whatever the texts contain."""
    text = json.dumps(labels, ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(raw, escaped)
    return text
