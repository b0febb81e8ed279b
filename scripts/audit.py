"""Audit the installed environment (.venv) for known vulnerabilities with pip-audit.

Run by scripts/test.sh with the audit tool's own interpreter (``.venv/audit/bin/python``,
see scripts/install.sh: pip-audit needs ``packaging >= 21``, Rasa 3.6 pins ``< 21``, so
it cannot live in the bot's environment). It audits what is installed in ``.venv``
(``--path``), not a requirements file: what the tests run is what is checked.

The outcome:

- a vulnerability not in ``requirements/audit-allowlist.txt`` (by its id or any alias)
  fails, always;
- an allow-list line without a package, a reason and a mitigation fails: the list is
  reviewed, not a dumping ground; an entry no finding matches any more is reported (remove it);
- the vulnerability service (PyPI's JSON API) unreachable, or answering for too few of the
  installed packages to mean anything: a loud warning (``AUDIT NOT RUN``), or a failure with
  ``SUPPORTBOT_AUDIT_OFFLINE=fail`` (docs/security.md, "Supply chain"). Why not fail by
  default: this project's CI machines reach PyPI's package index but not its per-version
  vulnerability API (404) nor OSV, so a strict default would fail every run for a reason no
  commit can fix; where the service is reachable, set ``fail``.

Exit status: 0 clean, 1 vulnerabilities or a bad allow-list, 2 could not audit (strict).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWLIST = ROOT / "requirements" / "audit-allowlist.txt"
SITE_PACKAGES = (
    ROOT / ".venv" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
)
# Below this share of installed packages audited, the service is taken as unreachable.
MIN_AUDITED_SHARE = 0.5
# pip-audit's answer when the service has nothing for a version (locally built ones too).
NOT_ON_PYPI = "not found on PyPI"
ENTRY = re.compile(
    r"^(?P<id>\S+)\s+(?P<package>[A-Za-z0-9._-]+)\s*:\s*(?P<reason>.+?)\s*\|\s*(?P<mitigation>.+)$"
)


def parse_allowlist(text: str) -> tuple[dict[str, str], list[str]]:
    """``{vulnerability id: package}`` and the malformed lines (each must say why and what mitigates it)."""
    entries: dict[str, str] = {}
    errors = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = ENTRY.match(line.strip())
        if match is None or len(match["reason"]) < 10 or len(match["mitigation"]) < 10:
            errors.append(
                f"{ALLOWLIST.name}:{number}: want `ID package: why it cannot be fixed | mitigation`"
            )
            continue
        entries[match["id"].upper()] = match["package"].lower()
    return entries, errors


def strict() -> bool:
    """Whether an audit that could not run fails (``SUPPORTBOT_AUDIT_OFFLINE=fail``) or warns (default)."""
    return os.environ.get("SUPPORTBOT_AUDIT_OFFLINE", "").strip().lower() == "fail"


def run_pip_audit() -> tuple[dict | None, str]:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "audit.json"
        command = [
            sys.executable, "-m", "pip_audit", "--path", str(SITE_PACKAGES), "--skip-editable",
            "--progress-spinner", "off", "--timeout", "20", "--aliases", "on", "--desc", "off",
            "-f", "json", "-o", str(report),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        if not report.exists():
            return None, (done.stderr or done.stdout).strip()[-800:]
        return json.loads(report.read_text()), done.stderr.strip()[-800:]


def cannot_audit(message: str) -> int:
    if strict():
        print(f"pip-audit: FAILED, could not audit: {message}", file=sys.stderr)
        print(
            "  The vulnerability service (PyPI's JSON API, https://pypi.org/pypi/<name>/<version>/json) must "
            "be reachable with SUPPORTBOT_AUDIT_OFFLINE=fail. Fix the network, or unset it to run "
            "without an audit on purpose (docs/security.md, 'Supply chain').",
            file=sys.stderr,
        )
        return 2
    print(f"pip-audit: WARNING, AUDIT NOT RUN: {message} (SUPPORTBOT_AUDIT_OFFLINE=fail makes this fail)",
          file=sys.stderr)  # fmt: skip
    return 0


@dataclass
class Verdict:
    """What one pip-audit report means: ``unreachable`` (with why), ``found``, ``allowed``, notes."""

    unreachable: str | None = None
    found: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    audited: int = 0


def judge(report: dict, allowlist: dict[str, str]) -> Verdict:
    """Sort a pip-audit JSON report into allowed, unexpected and stale, or say it is no audit at all."""
    dependencies = report.get("dependencies") or []
    unaudited = [d for d in dependencies if NOT_ON_PYPI in str(d.get("skip_reason", ""))]
    audited = [d for d in dependencies if "skip_reason" not in d]
    verdict = Verdict(audited=len(audited))
    total = len(audited) + len(unaudited)
    if not audited or len(audited) < MIN_AUDITED_SHARE * total:
        verdict.unreachable = f"the service answered for {len(audited)} of {total} installed packages"
        return verdict
    verdict.notes += [f"not audited: {d['skip_reason']}" for d in unaudited]
    matched: set[str] = set()
    for dependency in audited:
        for vuln in dependency.get("vulns") or []:
            ids = {vuln["id"].upper(), *(alias.upper() for alias in vuln.get("aliases") or [])}
            line = f"{dependency['name']} {dependency['version']}: {vuln['id']} ({', '.join(sorted(ids))})"
            if ids & allowlist.keys():
                matched |= ids & allowlist.keys()
                verdict.allowed.append(line)
            else:
                fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed release"
                verdict.found.append(f"{line}; fixed in: {fixes}")
    verdict.notes += [
        f"{stale} ({allowlist[stale]}) is no longer found: remove it from {ALLOWLIST.name}"
        for stale in sorted(allowlist.keys() - matched)
    ]
    return verdict


def main() -> int:
    allowlist, errors = parse_allowlist(ALLOWLIST.read_text(encoding="utf-8"))
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    report, log = run_pip_audit()
    if report is None:
        return cannot_audit(f"pip-audit did not run ({log})")
    verdict = judge(report, allowlist)
    if verdict.unreachable:
        return cannot_audit(verdict.unreachable)
    for line in verdict.allowed:
        print(f"pip-audit: allowed  {line}")
    for note in verdict.notes:
        print(f"pip-audit: note: {note}")
    if verdict.found:
        print(
            "pip-audit: FAILED, vulnerabilities not in the allow-list:",
            *verdict.found,
            sep="\n  ",
            file=sys.stderr,
        )
        print(
            "  Upgrade the package (within Rasa 3.6's constraints: pyproject.toml, requirements/), or add a "
            f"reviewed line to {ALLOWLIST.relative_to(ROOT)}.",
            file=sys.stderr,
        )
        return 1
    print(f"pip-audit: {verdict.audited} packages audited, no vulnerability outside the allow-list")
    return 0


if __name__ == "__main__":
    sys.exit(main())
