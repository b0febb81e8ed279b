"""Help-center articles (``knowledge/*.md``) parsed into passages the bot can quote.

Articles are written by the support team, not engineers, so every parse error names the file
and says how to fix it. Front matter is read with ``yaml.safe_load`` only: an article is data,
and a YAML tag such as ``!!python/object`` must never build Python objects. The body is kept
as plain text; nothing here renders or evaluates it (HTML in an article stays literal text).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

README = "README.md"
_HEADING = re.compile(r"^## +(.+?)\s*$", re.MULTILINE)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_BOLD = re.compile(r"(\*\*|__)(.+?)\1")
_LIST_ITEM = re.compile(r"^\s*(\d+[.)]|[-*•])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“(]?[A-Z0-9])")


class ArticleError(ValueError):
    """An article file cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class Article:
    """One help-center article: front matter plus the summary paragraph and ``##`` sections."""

    slug: str
    title: str
    url: str
    tags: tuple[str, ...]
    summary: str
    sections: tuple[tuple[str, str], ...]  # (heading, body), in file order
    # Customers' own wordings ("also asked as"): they bridge the gap between a customer's words
    # and the article's, so retrieval can index them next to the headings.
    questions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Passage:
    """A quotable piece of an article: the summary (heading ``""``) or one section."""

    slug: str
    title: str
    url: str
    heading: str
    text: str

    @property
    def index_text(self) -> str:
        """What retrieval indexes: the title and heading carry the topic a section body omits."""
        return "\n".join(part for part in (self.title, self.heading, self.text) if part)

    def to_dict(self) -> dict[str, str]:
        """Plain JSON-ready fields, so a trained model stores passages without pickle."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        return cls(**{key: str(data[key]) for key in ("slug", "title", "url", "heading", "text")})


def _fail(path: Path, problem: str, fix: str) -> ArticleError:
    return ArticleError(f"{path}: {problem}. {fix}")


def _front_matter(path: Path, text: str) -> tuple[dict[str, Any], str]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        fix = "Start the file with a '---' line, then title: and url: lines, then '---'"
        raise _fail(path, "no front matter", fix)
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise _fail(path, "front matter is not closed", "Add a '---' line after the url: line") from None
    try:
        meta = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as error:
        fix = "Use plain 'key: value' lines (no '!!' tags); put a title with a colon in quotes"
        raise _fail(path, f"front matter is not plain YAML ({error.__class__.__name__})", fix) from None
    if not isinstance(meta, dict):
        raise _fail(path, "front matter is not a list of 'key: value' lines", "Write title: and url: lines")
    return meta, "\n".join(lines[end + 1 :])


def _questions(path: Path, raw: Any) -> tuple[str, ...]:
    """The optional ``questions:`` list; a wrong shape fails loudly instead of being guessed at."""
    if raw is None:
        return ()
    fix = "Write 'questions:' followed by lines like '  - \"how do i ...\"', one customer wording each"
    if not isinstance(raw, list):
        raise _fail(path, f"questions: {raw!r} is not a list", fix)
    if not all(isinstance(item, str) and item.strip() for item in raw):
        raise _fail(path, "questions has an empty or non-text entry", fix)
    return tuple(item.strip() for item in raw)


def parse_article(path: Path) -> Article:
    """Parse one article file; raises :class:`ArticleError` with a fix an editor can follow."""
    meta, body = _front_matter(path, path.read_text(encoding="utf-8"))
    title, url = meta.get("title"), meta.get("url")
    if not isinstance(title, str) or not title.strip():
        raise _fail(path, "missing title", "Add 'title: <the title customers see>' to the front matter")
    if not isinstance(url, str) or not url.strip():
        raise _fail(path, "missing url", f"Add 'url: https://help.hearthlink.example/articles/{path.stem}'")
    if not re.match(r"https?://\S+$", url.strip()):
        raise _fail(path, f"url {url!r} is not an http(s) address", "Write the full https://… address")
    raw_tags = meta.get("tags") or []
    tags = tuple(str(tag) for tag in (raw_tags if isinstance(raw_tags, list) else [raw_tags]))
    parts = _HEADING.split(body)  # [summary, heading1, body1, heading2, body2, ...]
    summary = parts[0].strip()
    sections = tuple((parts[i].strip(), parts[i + 1].strip()) for i in range(1, len(parts), 2))
    if not summary and not sections:
        raise _fail(path, "no body", "Write a summary paragraph and '## ' sections after the front matter")
    for heading, text in sections:
        if not text:
            raise _fail(path, f"section {heading!r} has no text", "Write the answer under the heading")
    questions = _questions(path, meta.get("questions"))
    return Article(path.stem, title.strip(), url.strip(), tags, summary, sections, questions)


def load_articles(folder: Path) -> list[Article]:
    """Every ``*.md`` in ``folder`` except the README (documentation for editors), by file name."""
    return [parse_article(path) for path in sorted(folder.glob("*.md")) if path.name != README]


def passages(article: Article) -> list[Passage]:
    """The summary, then one passage per section: a section is written to make sense alone."""
    base = (article.slug, article.title, article.url)
    found = [Passage(*base, "", article.summary)] if article.summary else []
    return found + [Passage(*base, heading, text) for heading, text in article.sections]


def plain_text(markdown: str) -> str:
    """Links become their text, bold and backticks disappear: channels show the answer as is."""
    text = _LINK.sub(r"\1", markdown)
    text = _BOLD.sub(r"\2", text)
    return text.replace("`", "")


def _units(text: str) -> list[tuple[str, str]]:
    """(separator before, piece): sentences of a paragraph, or whole items of a list."""
    units: list[tuple[str, str]] = []
    for line in (line.strip() for line in text.splitlines()):
        if not line:
            continue
        if _LIST_ITEM.match(line):
            units.append(("\n", line))  # a step is never split: half a step misleads
            continue
        for i, sentence in enumerate(_SENTENCE_END.split(line)):
            units.append((" " if i else "\n", sentence.strip()))
    return units


def short_answer(passage: Passage, max_chars: int = 320) -> str:
    """The leading sentences (or list items) that fit in ``max_chars``, as plain text.

    Chat answers must stay short and end on a whole sentence; the article link gives the rest.
    A first sentence longer than ``max_chars`` is cut at a word boundary and ends with "…".
    """
    answer = ""
    for separator, piece in _units(plain_text(passage.text)):
        candidate = f"{answer}{separator}{piece}" if answer else piece
        if len(candidate) > max_chars:
            break
        answer = candidate
    if answer:
        return answer
    first = _units(plain_text(passage.text))[0][1] if passage.text.strip() else ""
    if len(first) <= max_chars:
        return first
    cut = first[: max_chars - 1]
    cut = cut[: cut.rfind(" ")] if " " in cut else cut
    return cut.rstrip(" ,;:–-") + "…"
