"""The docs stay true to the tree: links, paths and code names in README.md and docs/ exist.

Docs rot silently when code moves (a page kept naming bot/balancer.py after it was
replaced), so every page is checked cheaply, without importing anything:

- every relative link points at an existing file, and a ``#fragment`` into a Markdown page
  at one of its headings (GitHub's anchor rules);
- every path under our top-level folders (``bot/…``, ``tests/…``, ``deploy/…`` …) exists;
- every dotted name of our code (``bot.handoff.relay.Relay``; YAML keys written after
  "→ " are not code) resolves to a module and to a class, function or assignment in it,
  and so does a name written right after its module (`` `bot/handoff/relay.py` `Relay` ``)
  or a method of one of our classes (`` `Relay.deliver` ``), all read with ``ast``;
- the README stays a front page: at most 150 lines, opening with the two commands CI runs.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from tests.support import ROOT

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
PAGE_IDS = [str(page.relative_to(ROOT)) for page in PAGES]

FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
TOP_FOLDERS = "bot|actions|tests|bench|scripts|deploy|docs|requirements|nlu_data|web"
PATH = re.compile(rf"(?<![\w./~-])(?:{TOP_FOLDERS})/[\w.*/-]*[\w*/]")
DOTTED = re.compile(r"(?<![\w./-])(?<!→ )(?:bot|actions)(?:\.[A-Za-z_]\w*)+")
NAME_AFTER_MODULE = re.compile(r"`((?:bot|actions|tests)/[\w/]+)\.py`\s+`([A-Za-z_][\w.]*)(?:\(\))?`")
METHOD = re.compile(r"`([A-Z]\w*)\.([A-Za-z_]\w*)(?:\(\))?`")


def prose(text: str) -> str:
    """The page without fenced code blocks: links inside code are not links."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for line in prose(page.read_text(encoding="utf-8")).splitlines():
        if line.startswith("#"):
            base = slug(line.lstrip("#"))
            name, n = base, 0
            while name in found:
                n += 1
                name = f"{base}-{n}"
            found.add(name)
    return found


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_relative_link_points_at_an_existing_file_and_heading(page: Path) -> None:
    broken = []
    for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):  # https:, mailto: … : not ours to check
            continue
        path_part, _, fragment = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            broken.append(f"{target}: no file {resolved}")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target}: {resolved.name} has no heading with anchor #{fragment}")
    assert not broken, f"{page.name}: broken links:\n" + "\n".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_path_the_page_names_exists(page: Path) -> None:
    missing = sorted(
        path
        for path in set(PATH.findall(page.read_text(encoding="utf-8")))
        if not any(ROOT.glob(path.rstrip("/")))
    )
    assert not missing, f"{page.name} names paths that are not in the tree: {missing}"


@cache
def module_names(source: Path) -> dict[str, ast.AST]:
    """Names a module binds at top level: classes, functions, assignments, imports."""
    return bound_names(ast.parse(source.read_text(encoding="utf-8")).body)


@cache
def lazy_names(source: Path) -> dict[str, ast.AST]:
    """Classes and functions defined anywhere in a module, e.g. inside its ``__getattr__``."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    kinds = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {node.name: node for node in ast.walk(tree) if isinstance(node, kinds)}


def bound_names(body: list[ast.stmt]) -> dict[str, ast.AST]:
    names: dict[str, ast.AST] = {}
    for node in body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names[(alias.asname or alias.name).split(".")[0]] = node
        elif isinstance(node, (ast.If, ast.Try)):
            names.update(bound_names(node.body))
    return names


def resolves(dotted: str) -> bool:
    """``bot.a.b.Name.method`` names a module, then a chain of definitions inside it."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:split])
        source = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if source.is_file():
            break
    else:
        return False
    names = module_names(source)
    if "__getattr__" in names:  # PEP 562: classes built on first access are defined inside it
        names = {**lazy_names(source), **names}
    for attribute in parts[split:]:
        node = names.get(attribute)
        if node is None:
            return False
        names = bound_names(node.body) if isinstance(node, ast.ClassDef) else {}
    return True


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_dotted_name_of_our_code_resolves(page: Path) -> None:
    names = set(DOTTED.findall(page.read_text(encoding="utf-8")))
    unknown = sorted(name for name in names if not resolves(name))
    assert not unknown, f"{page.name} names code that does not exist: {unknown}"


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_name_written_after_its_module_exists_there(page: Path) -> None:
    pairs = set(NAME_AFTER_MODULE.findall(page.read_text(encoding="utf-8")))
    unknown = sorted(f"{module}.py {name}" for module, name in pairs
                     if not resolves(module.replace("/", ".") + "." + name))  # fmt: skip
    assert not unknown, f"{page.name} names code that is not in that module: {unknown}"


@cache
def our_classes() -> dict[str, list[ast.ClassDef]]:
    """Every class defined in bot/ and actions/, by name."""
    found: dict[str, list[ast.ClassDef]] = {}
    for source in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("actions/**/*.py")]:
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                found.setdefault(node.name, []).append(node)
    return found


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_method_of_our_classes_the_page_names_exists(page: Path) -> None:
    unknown = sorted(
        f"{cls}.{attribute}"
        for cls, attribute in set(METHOD.findall(page.read_text(encoding="utf-8")))
        if cls in our_classes() and not any(attribute in bound_names(c.body) for c in our_classes()[cls])
    )
    assert not unknown, f"{page.name} names methods our classes do not have: {unknown}"


def test_the_architecture_page_names_the_modules_of_each_process() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(PATH.findall(page))
    for module in ["bot/channels/webchat.py", "bot/worker.py", "bot/handoff/relay.py", "bot/processes.py"]:
        assert module in named, f"docs/architecture.md should say where {module} runs"
    assert "```" in page, "docs/architecture.md should draw the processes"


def test_readme_is_a_front_page_opening_with_the_two_commands_ci_runs() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move detail into docs/"
    first_block = lines[lines.index("```bash") + 1 : lines.index("```")]
    assert lines.index("```bash") <= 3, "the two commands come first, right under the title"
    assert [line.split()[0] for line in first_block] == ["./scripts/run.sh", "./scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "exec ./scripts/test.sh" in ci, "CI must run exactly the README's test command"
