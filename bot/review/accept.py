"""Accepting a group of the review: Rasa NLU examples for an intent, or a help-center article draft.

Both write one new file and never overwrite one (opened with ``"x"``): a second accept of the
same name stops with an error instead of losing the first. Names are checked against strict
patterns before any path is built from them, and the path must stay inside its folder, so
``../../etc/passwd`` or ``x/../../y`` never reach the file system.

Customer text becomes data, never structure: each example is one line (line breaks and
control characters collapsed), the characters of Rasa's entity markup (``[]{}()``) are
dropped so "[order number]" cannot become an annotation, and the written NLU file is parsed
back and compared with what was meant before it is kept. The article's front matter is
written by ``yaml.safe_dump``, and a reply cannot open a ``##`` section or a quote.

A new intent also needs its name in domain.yml ``intents:`` (``rasa data validate`` and
tests/test_training_data.py require the domain and the data to agree): that one line is
inserted after the last intent, keeping the file's comments, and the result is parsed back
and checked to differ only by that intent. The answer itself (a response and a rule) is the
support lead's to write; the command prints a template.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

INTENT_NAME = re.compile(r"[a-z][a-z0-9_]{1,47}")
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_SLUG = 60
RESERVED_INTENTS = frozenset({"restart", "back", "session_start", "nlu_fallback", "knowledge_question"})
MAX_EXAMPLE = 300  # characters; longer "examples" are pasted emails, not questions
DEFAULT_URL_BASE = "https://help.hearthlink.example/articles"
LEARNED_COMMENT = "# Accepted from the review of missed messages (python -m bot review-accept)."
_MARKUP = re.compile(r"[\[\]{}()]")
_LEADING = re.compile(r"^[\s#>*+\-|=`]+")  # what would make a line a heading, quote, list or rule
_INTENTS_KEY = re.compile(r"intents:\s*(#.*)?")
_LIST_ITEM = re.compile(r"(\s*)-\s+\S")


class AcceptError(ValueError):
    """The group cannot be accepted as asked; the message says why and what to do."""


@dataclass(frozen=True)
class AcceptedIntent:
    path: Path
    intent: str
    examples: int
    duplicates: int  # examples left out: already training examples of some intent
    new_intent: bool  # added to domain.yml ``intents:``


def one_line(text: str) -> str:
    """Text as one printable line: line breaks, tabs and control characters become spaces."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())


def example_text(text: str) -> str:
    """A customer message as a Rasa example: one line, no entity markup, not a list marker."""
    return _LEADING.sub("", one_line(_MARKUP.sub(" ", str(text))))[:MAX_EXAMPLE].strip()


def check_intent_name(name: str) -> str:
    if not INTENT_NAME.fullmatch(name) or name in RESERVED_INTENTS or name.startswith("external_"):
        raise AcceptError(
            f"{one_line(name)[:60]!r} is not a usable intent name: use 2-48 lowercase letters, digits and "
            "underscores, starting with a letter (e.g. outage_in_area), and not one of Rasa's own "
            f"({', '.join(sorted(RESERVED_INTENTS))})"
        )
    return name


def check_slug(slug: str) -> str:
    if not SLUG.fullmatch(slug) or len(slug) > MAX_SLUG or slug == "readme":
        raise AcceptError(
            f"{one_line(slug)[:60]!r} is not a usable article slug: use lowercase words and digits joined "
            f"by hyphens, at most {MAX_SLUG} characters (e.g. fiber-outage-in-my-area)"
        )
    return slug


def inside(folder: Path, name: str) -> Path:
    """``folder / name``, refusing anything that would land elsewhere (defence in depth)."""
    target = (folder / name).resolve()
    if target.parent != folder.resolve():
        raise AcceptError(f"{one_line(name)!r} would be written outside {folder}")
    return target


# --------------------------------------------------------------------------- intents


def training_examples(cluster: dict[str, Any], known: Iterable[str]) -> tuple[list[str], int]:
    """The group's examples as Rasa examples, without those already in the data: (examples, left out)."""
    seen = {" ".join(text.lower().split()) for text in known}
    kept, duplicates = [], 0
    for raw in [*cluster.get("examples", []), *cluster.get("more_examples", [])]:
        text = example_text(raw)
        key = " ".join(text.lower().split())
        if not text:
            continue
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        kept.append(text)
    return kept, duplicates


def nlu_yaml(intent: str, examples: list[str], source: str) -> str:
    """A Rasa 3 NLU file with one intent block; parsed back and compared before it is returned."""
    lines = [f"# {one_line(source)}", 'version: "3.1"', "nlu:", f"- intent: {intent}", "  examples: |"]
    text = "\n".join([*lines, *(f"    - {example}" for example in examples)]) + "\n"
    parsed = yaml.safe_load(text)
    block = parsed["nlu"][0]
    back = [line.strip()[2:] for line in str(block["examples"]).splitlines()]
    if block["intent"] != intent or back != examples:
        raise AcceptError(f"the examples of {intent} did not survive as YAML; nothing was written")
    return text


def domain_with_intent(domain_text: str, intent: str) -> str | None:
    """domain.yml with ``intent`` added to ``intents:`` (None: it is there already)."""
    document = yaml.safe_load(domain_text) or {}
    intents = document.get("intents") or []
    names = [next(iter(item)) if isinstance(item, dict) else str(item) for item in intents]
    if intent in names:
        return None
    lines = domain_text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _INTENTS_KEY.fullmatch(line.rstrip("\n"))), None)
    last, indent = None, None
    for i in range(start + 1 if start is not None else len(lines), len(lines)):
        line = lines[i].rstrip("\n")
        item = _LIST_ITEM.match(line)
        if item and indent in (None, item.group(1)):
            last, indent = i, item.group(1)
        elif line.strip() and not line.lstrip().startswith("#") and not _deeper(line, indent):
            break  # the next key: the list ended (deeper lines belong to the item above)
    if last is None:
        raise AcceptError(
            "domain.yml has no block list under 'intents:' to add to; add the line "
            f"'  - {intent}' under intents: yourself and accept again"
        )
    while last + 1 < len(lines) and _deeper(lines[last + 1], indent) and lines[last + 1].strip():
        last += 1  # the item's own deeper lines (``- greet:`` then ``use_entities: []``)
    lines[last] = lines[last] if lines[last].endswith("\n") else lines[last] + "\n"
    learned = [f"{indent}- {intent}\n"]
    if not any(line.strip() == LEARNED_COMMENT for line in lines[start or 0 : last + 1]):
        learned.insert(0, f"{indent}{LEARNED_COMMENT}\n")
    lines[last + 1 : last + 1] = learned
    changed = "".join(lines)
    after = yaml.safe_load(changed)
    added = after.get("intents") or []
    if (
        [item for item in added if item != intent] != intents
        or len(added) != len(intents) + 1
        or {**after, "intents": intents} != document
    ):
        raise AcceptError(f"adding {intent} to domain.yml would change more than intents:; add it by hand")
    return changed


def _deeper(line: str, indent: str | None) -> bool:
    return indent is not None and line.startswith(f"{indent} ")


def accept_intent(root: Path, cluster: dict[str, Any], intent: str, source: str) -> AcceptedIntent:
    """Write ``nlu_data/nlu/learned_<intent>.yml`` from the group; add a new intent to domain.yml."""
    from bot.evaluation import load_examples

    check_intent_name(intent)
    folder = root / "nlu_data" / "nlu"
    target = inside(folder, f"learned_{intent}.yml")
    if target.exists():
        raise AcceptError(
            f"{target} exists already: add these examples to it by hand, or accept under another name"
        )
    examples, duplicates = training_examples(cluster, (e.plain_text for e in load_examples(folder)))
    if not examples:
        raise AcceptError(f"cluster {cluster.get('cluster')}: every example is a training example already")
    domain_file = root / "domain.yml"
    domain = domain_with_intent(domain_file.read_text(encoding="utf-8"), intent)
    text = nlu_yaml(intent, examples, source)
    with target.open("x", encoding="utf-8") as handle:
        handle.write(text)
    if domain is not None:
        try:
            partial = domain_file.with_name(f".{domain_file.name}.learned")
            partial.write_text(domain, encoding="utf-8")
            partial.replace(domain_file)
        except OSError:
            target.unlink()
            raise
    return AcceptedIntent(target, intent, len(examples), duplicates, domain is not None)


def answer_template(intent: str) -> str:
    """What the lead adds so the new intent gets an answer (printed after accepting)."""
    return (
        f'domain.yml, under responses:\n  utter_{intent}:\n    - text: "…your answer…"\n'
        f"nlu_data/rules.yml:\n- rule: answer {intent}\n  steps:\n  - intent: {intent}\n"
        f"  - action: utter_{intent}"
    )


# --------------------------------------------------------------------------- articles


def article_markdown(article: dict[str, Any], slug: str, url_base: str, title: str | None = None) -> str:
    """The draft as a knowledge/ article: front matter (title, url, tags, questions) and a body."""
    answers = [_paragraph(text) for text in _strings(article.get("answers"))]
    answers = [text for text in answers if text]
    if not answers:
        raise AcceptError("the draft has no agent answer to write an article from")
    tags = [tag for tag in (_tag(t) for t in _strings(article.get("tags"))) if tag]
    questions = [q for q in (one_line(q) for q in _strings(article.get("questions"))) if q]
    meta: dict[str, Any] = {
        "title": one_line(title or article.get("title") or slug.replace("-", " ").capitalize()),
        "url": f"{url_base.rstrip('/')}/{slug}",
        "tags": tags,
    }
    if questions:
        meta["questions"] = questions
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=10_000)
    body = answers[0]
    if len(answers) > 1:
        body += "\n\n## What our agents also told customers\n" + "\n".join(f"- {a}" for a in answers[1:])
    return f"---\n{front}---\n{body}\n"


def accept_article(
    root: Path, cluster: dict[str, Any], slug: str, title: str | None = None, folder: Path | None = None
) -> Path:
    """Write ``knowledge/<slug>.md`` from the group's draft; checked with the knowledge loader."""
    from bot.knowledge.articles import ArticleError, load_articles, parse_article

    check_slug(slug)
    article = cluster.get("article")
    if not isinstance(article, dict):
        raise AcceptError(
            f"cluster {cluster.get('cluster')} has no article draft: none of its handoffs was resolved "
            "with an agent's answer. Write the article yourself (knowledge/README.md)"
        )
    knowledge = folder or root / "knowledge"
    target = inside(knowledge, f"{slug}.md")
    if target.exists():
        raise AcceptError(f"{target} exists already: choose another slug, or edit that article")
    try:
        base = url_base(load_articles(knowledge))
    except ArticleError:
        base = DEFAULT_URL_BASE
    text = article_markdown(article, slug, base, title)
    with target.open("x", encoding="utf-8") as handle:
        handle.write(text)
    try:
        parse_article(target)
    except ArticleError as exc:
        target.unlink()
        raise AcceptError(f"the draft is not a valid article ({exc}); nothing was written") from None
    return target


def url_base(articles: Iterable[Any]) -> str:
    """The address the help center's articles share (their url without the slug)."""
    bases = Counter(a.url.rsplit("/", 1)[0] for a in articles if a.url.rstrip("/").endswith(a.slug))
    return bases.most_common(1)[0][0] if bases else DEFAULT_URL_BASE


def _tag(text: str) -> str:
    return re.sub(r"[^a-z0-9-]", "", one_line(text).lower())


def _paragraph(text: str) -> str:
    return _LEADING.sub("", one_line(text)).strip()


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []
