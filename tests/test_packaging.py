"""`pip install .` gives a working bot: pyproject.toml declares what bot/ and actions/ import.

The recipe is two commands (scripts/install.sh): rasa + rasa-sdk without their metadata
(requirements/rasa.txt), then the package under requirements/constraints.txt. These tests keep
the declaration honest without installing anything: a new import needs a new dependency.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions

import tomllib

from tests.support import ROOT


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement line (``PyJWT[crypto]>=2`` → ``pyjwt``)."""
    return re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_name(r) for r in project["dependencies"]}


def _requirement_lines(path: str) -> list[str]:
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def _third_party_imports() -> dict[str, str]:
    """Top-level modules imported by our runtime code → one file that imports each."""
    found: dict[str, str] = {}
    for path in sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "actions").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("bot", "actions"):
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_of_the_bot_is_a_declared_dependency() -> None:
    installed_by_the_rasa_step = {_name(r) for r in _requirement_lines("requirements/rasa.txt")}
    declared = _declared() | installed_by_the_rasa_step
    providers = packages_distributions()
    missing = {}
    for module, where in _third_party_imports().items():
        distributions = {_name(d) for d in providers.get(module, [module])}
        if not distributions & declared:
            missing[module] = f"{where} (installed as {sorted(distributions)})"
    assert not missing, f"imported but not in pyproject.toml [project] dependencies: {missing}"


def test_rasa_sdk_is_pinned_once_and_the_install_script_uses_the_constraints() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    sdk_in_pyproject = [r for r in project["dependencies"] if _name(r) == "rasa-sdk"]
    sdk_in_rasa_step = [r for r in _requirement_lines("requirements/rasa.txt") if _name(r) == "rasa-sdk"]
    assert sdk_in_pyproject == sdk_in_rasa_step == ["rasa-sdk==3.6.2"]
    script = (ROOT / "scripts" / "install.sh").read_text(encoding="utf-8")
    assert "--no-deps --ignore-requires-python -r requirements/rasa.txt" in script
    assert '-c requirements/constraints.txt -e ".[test]"' in script
    constrained = {_name(r) for r in _requirement_lines("requirements/constraints.txt")}
    assert {"numpy", "scipy", "scikit-learn", "python-socketio", "yarl"} <= constrained
