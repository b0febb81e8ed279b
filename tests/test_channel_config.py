"""credentials.yml: our channels load, and the commented examples are valid Rasa config.

The examples (Slack for customers, Messenger, Telegram, WhatsApp via Twilio) are what a
business uncomments; each one is built here with Rasa's own connector class, so a typo
in a key would fail this test rather than a deployment.
"""

from __future__ import annotations

import re

import pytest
import yaml
from rasa.core.channels import BUILTIN_CHANNELS
from rasa.shared.utils.common import class_from_module_path

from tests.support import ROOT

CREDENTIALS = (ROOT / "credentials.yml").read_text(encoding="utf-8")


def examples() -> dict:
    """The commented-out channel blocks, uncommented, with ${VARS} filled with dummies."""
    block = CREDENTIALS.split("# --- more channels", 1)[1]
    # "#key:" and "#  option: value" are config; "# text" is a comment.
    lines = [line[1:] for line in block.splitlines() if re.match(r"^#([a-z]|  )", line)]
    text = re.sub(r"\$\{(\w+)\}", lambda m: f"dummy-{m.group(1).lower()}", "\n".join(lines))
    return yaml.safe_load(text)


def test_the_active_channels_are_ours_and_load_without_x_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"):
        monkeypatch.delenv(name, raising=False)
    active = yaml.safe_load(CREDENTIALS)
    names = {}
    for key, options in active.items():
        channel = class_from_module_path(key).from_credentials(options)
        names[key] = channel.name()
    assert names == {
        "bot.channels.rest.SupportRestInput": "rest",
        "bot.channels.webchat.WebChatInput": "socketio",
        "bot.channels.x.XInput": "twitter",
    }


def test_commented_examples_build_with_rasas_own_connectors() -> None:
    found = examples()
    assert set(found) == {"slack", "facebook", "telegram", "twilio"}
    for name, options in found.items():
        channel = BUILTIN_CHANNELS[name].from_credentials(options)
        assert channel.name() == name
