"""The website chat widget's texts come from business.yml, filled in safely as it is served."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from bot.channels.webchat import STATIC_DIR
from bot.channels.widget_labels import (
    LABEL_KEYS,
    PLACEHOLDER,
    WidgetLabelsError,
    load_labels,
    script_literal,
    widget_script,
)
from tests.support import ROOT

WIDGET = STATIC_DIR / "widget.js"


def labels_literal(script: str) -> dict[str, str]:
    found = re.search(r"var LABELS = (\{.*?\});\n", script)
    assert found, "the served widget has no LABELS object"
    return json.loads(found.group(1))


def business_copy(tmp_path: Path, **labels: str) -> Path:
    document = yaml.safe_load((ROOT / "business.yml").read_text(encoding="utf-8"))
    document["webchat"]["labels"].update(labels)
    path = tmp_path / "business.yml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def test_the_served_widget_carries_the_labels_of_business_yml(tmp_path: Path) -> None:
    path = business_copy(tmp_path, agent_joined="Sie chatten jetzt mit {agent}")
    script = widget_script(WIDGET, path)
    assert PLACEHOLDER not in script
    labels = labels_literal(script)
    assert labels["agent_joined"] == "Sie chatten jetzt mit {agent}"
    assert labels["send"] == "Send"


def test_the_widget_uses_exactly_the_labels_business_yml_must_have() -> None:
    used = set(re.findall(r'label\("([a-z_]+)"', WIDGET.read_text(encoding="utf-8")))
    assert used == set(LABEL_KEYS)
    assert set(load_labels(ROOT / "business.yml")) == set(LABEL_KEYS)


def test_a_label_cannot_break_out_of_the_script(tmp_path: Path) -> None:
    attack = '</script><script>alert(1)</script>"; alert(2); "\u2028'
    path = business_copy(tmp_path, title=attack)
    script = widget_script(WIDGET, path)
    literal = re.search(r"var LABELS = (\{.*?\});\n", script)
    assert literal and "</script" not in literal.group(1).lower() and "\u2028" not in literal.group(1)
    assert labels_literal(script)["title"] == attack  # still the same text once parsed
    assert json.loads(script_literal({"t": "<&>"})) == {"t": "<&>"}


def test_a_missing_label_is_named_with_the_fix(tmp_path: Path) -> None:
    path = business_copy(tmp_path)
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    del document["webchat"]["labels"]["reconnecting"]
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(WidgetLabelsError, match=r"webchat\.labels needs a text for reconnecting"):
        widget_script(WIDGET, path)
