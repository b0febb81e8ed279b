"""The dependency audit's decisions (scripts/audit.py) and the reviewed allow-list it reads.

The audit itself runs in scripts/test.sh against the installed environment; these tests
keep its judgement honest without the network: an unknown vulnerability fails, an
allowed one (by id or alias) passes, a service that answers for nothing is no audit, and
every allow-list line says why it cannot be fixed and what mitigates it.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType

import pytest

from tests.support import ROOT


def audit_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_script", ROOT / "scripts" / "audit.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


audit = audit_module()


def dependency(name: str, *vulns: tuple[str, list[str]]) -> dict:
    return {
        "name": name,
        "version": "1.0",
        "vulns": [{"id": vid, "aliases": aliases, "fix_versions": ["9.9"]} for vid, aliases in vulns],
    }


def test_every_allow_list_entry_is_reviewed_and_names_an_installed_package() -> None:
    entries, errors = audit.parse_allowlist(audit.ALLOWLIST.read_text(encoding="utf-8"))
    assert not errors
    assert "CVE-2025-61765" in entries  # python-socketio < 5.10 with the Redis manager (Rasa's pin)
    for vuln, package in entries.items():
        try:
            version(package)
        except PackageNotFoundError:
            pytest.fail(f"{vuln}: {package} is not installed; the entry is stale")


def test_an_entry_without_a_reason_and_a_mitigation_is_refused() -> None:
    _, errors = audit.parse_allowlist("CVE-2024-0001 aiohttp: too old\nGHSA-xxxx somepkg\n")
    assert len(errors) == 2


def test_a_vulnerability_outside_the_allow_list_fails_and_an_alias_match_is_allowed() -> None:
    report = {
        "dependencies": [
            dependency("python-socketio", ("GHSA-g8c6-8fjj-2r4m", ["CVE-2025-61765"])),
            dependency("aiohttp", ("PYSEC-2099-1", ["CVE-2099-0001"])),
            *[dependency(f"clean-{n}") for n in range(5)],
        ]
    }
    verdict = audit.judge(report, {"CVE-2025-61765": "python-socketio", "CVE-2020-0002": "gone"})
    assert verdict.unreachable is None
    assert [line.split(":")[0] for line in verdict.found] == ["aiohttp 1.0"]
    assert len(verdict.allowed) == 1
    assert any("CVE-2020-0002" in note and "no longer found" in note for note in verdict.notes)


def test_a_service_that_answers_for_nothing_is_no_audit_not_a_clean_one() -> None:
    """What a mirror without PyPI's JSON API gives: every package "not found", pip-audit exit 0."""
    skipped = [
        {"name": f"p{n}", "skip_reason": f"Dependency not found on PyPI and could not be audited: p{n} (1.0)"}
        for n in range(10)
    ]
    verdict = audit.judge({"dependencies": [*skipped, dependency("one")]}, {})
    assert verdict.unreachable is not None and "1 of 11" in verdict.unreachable


def test_an_audit_that_could_not_run_warns_loudly_and_fails_when_chosen(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SUPPORTBOT_AUDIT_OFFLINE", raising=False)
    monkeypatch.setenv("CI", "true")
    assert not audit.strict() and audit.cannot_audit("unreachable") == 0
    assert "AUDIT NOT RUN" in capsys.readouterr().err
    monkeypatch.setenv("SUPPORTBOT_AUDIT_OFFLINE", "fail")
    assert audit.strict() and audit.cannot_audit("unreachable") == 2


def test_the_test_command_runs_the_audit_and_fails_on_its_verdict() -> None:
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert ".venv/audit/bin/python scripts/audit.py || audit=$?" in script
    assert script.rstrip().endswith('exit "$audit"')
    assert "requirements/audit.txt" in (ROOT / "scripts" / "install.sh").read_text()
