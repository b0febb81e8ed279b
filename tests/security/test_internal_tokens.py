"""The internal credentials: never empty, never guessable, the same for every process of a run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.internal_tokens import ENV_NAMES, internal_tokens
from bot.settings import SettingsError
from tests.support import ROOT

STRONG = "a-strong-token-for-the-tests-0123456789abcdef"


@pytest.fixture(autouse=True)
def no_tokens_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*ENV_NAMES.values(), "SUPPORTBOT_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)


def test_the_embedded_default_generates_strong_tokens_once_and_keeps_them_private(tmp_path: Path) -> None:
    first = internal_tokens(tmp_path)
    assert internal_tokens(tmp_path) == first  # a restart agrees
    values = list(vars(first).values())
    assert len(set(values)) == len(values) and all(len(v) >= 32 for v in values)
    stored = tmp_path / "internal-tokens.json"
    assert stored.stat().st_mode & 0o777 == 0o600
    assert "***" in repr(first) and values[0] not in repr(first)  # a logged object leaks nothing


def test_a_token_from_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_TOKEN", STRONG)
    assert internal_tokens(tmp_path).metrics_token == STRONG


@pytest.mark.parametrize("value", ["change-me-in-production", "secret", "short-token"])
def test_a_weak_or_published_token_is_refused_in_every_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RASA_AUTH_TOKEN", value)
    with pytest.raises(SettingsError, match="RASA_AUTH_TOKEN"):
        internal_tokens(tmp_path)


def test_production_generates_nothing_and_names_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORTBOT_ENVIRONMENT", "production")
    monkeypatch.setenv("RASA_AUTH_TOKEN", STRONG)
    with pytest.raises(SettingsError) as refused:
        internal_tokens(tmp_path)
    assert "ACTIONS_TOKEN" in str(refused.value) and "RASA_AUTH_TOKEN" not in str(refused.value)
    assert not (tmp_path / "internal-tokens.json").exists()
    for name in ENV_NAMES.values():
        monkeypatch.setenv(name, f"{name}-{STRONG}")
    assert internal_tokens(tmp_path).actions_token == f"ACTIONS_TOKEN-{STRONG}"


def test_the_start_command_refuses_production_without_tokens(tmp_path: Path) -> None:
    """What an operator sees: one line naming the variables, exit code 2, nothing started."""
    env = {
        "PATH": "/usr/bin:/bin",
        "SUPPORTBOT_ENVIRONMENT": "production",
        "SUPPORTBOT_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "actions", "--port", "9"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "ACTIONS_TOKEN" in result.stderr and "Traceback" not in result.stderr


def test_processes_starting_at_once_end_with_one_set_of_tokens(tmp_path: Path) -> None:
    script = "import sys; from pathlib import Path; from bot.internal_tokens import internal_tokens; "
    script += "print(internal_tokens(Path(sys.argv[1])).actions_token)"
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    seen = {run.communicate(timeout=120)[0].strip() for run in runs}
    assert len(seen) == 1
    assert seen == {json.loads((tmp_path / "internal-tokens.json").read_text())["actions_token"]}
