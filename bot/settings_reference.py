"""The settings tables of docs/configuration.md, generated from the settings dataclasses.

Kept apart from ``bot/settings.py`` (which every process loads) because only the docs and
their test need it: ``python -m bot.settings_reference`` prints the tables, ``--write`` puts
them into the page.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from bot.settings import PROJECT_ROOT, SECTIONS


def reference_markdown() -> str:
    """The settings tables of docs/configuration.md, generated from the dataclasses' fields.

    ``python -m bot.settings_reference`` prints them; tests/test_settings.py fails when the page differs.
    """
    from bot.credentials import SECTIONS as CREDENTIALS  # imports this module

    lines = []
    for cls in (*SECTIONS, *CREDENTIALS):
        lines += ["", f"### {(cls.__doc__ or cls.__name__).splitlines()[0].rstrip('.')}", ""]
        lines += ["| variable | YAML key | default | meaning |", "| --- | --- | --- | --- |"]
        for item in fields(cls):
            env, key = item.metadata.get("env"), item.metadata.get("yaml")
            default = "" if item.default in (None, "") else f"`{_shown(item.default)}`"
            secret = " (secret)" if item.metadata.get("secret") else ""
            cells = [
                f"`{env}`" if env else "",
                f"`{key}`" if key else "",
                default,
                item.metadata["doc"] + secret,
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines[1:]) + "\n"


def _shown(value: Any) -> str:
    return "the checkout" if value == PROJECT_ROOT else str(value)


BEGIN, END = "<!-- settings:begin -->\n", "<!-- settings:end -->"


def write_page() -> None:
    """Replace the generated block of docs/configuration.md with the current tables."""
    page_path = PROJECT_ROOT / "docs" / "configuration.md"
    page = page_path.read_text(encoding="utf-8")
    head, rest = page.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    page_path.write_text(head + BEGIN + reference_markdown() + END + tail, encoding="utf-8")


if __name__ == "__main__":
    import sys

    if "--write" in sys.argv:
        write_page()
    else:
        print(reference_markdown(), end="")
