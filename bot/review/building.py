"""Assembling the review: each group's examples, counts and suggestions, as the review file's document.

Built from the missed messages (bot/review/misses.py), their groups (bot/review/clustering.py)
and the suggestions (bot/review/suggestions.py); nothing here reads a store or loads the
encoder. Group numbers run from 1, biggest group first; a message like no other is listed
under ``ungrouped`` (a topic of one is not yet a pattern).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from bot.review import suggestions
from bot.review.clustering import Group
from bot.review.misses import StoredMisses
from bot.review.review_file import VERSION

SHOWN = 5  # examples shown per group
KEPT = 50  # examples kept per group, for accepting it as an intent
QUESTIONS = 6  # customer wordings in an article draft (knowledge/README.md: "about 6")
UNGROUPED = 50


def build_review(
    stored: StoredMisses,
    groups: Sequence[Group],
    vectors: np.ndarray,
    intents: tuple[Sequence[str], np.ndarray],
    *,
    path: Path,
    start: datetime,
    end: datetime,
    now: datetime,
    slugs: set[str],
) -> dict[str, Any]:
    """The review document. ``intents``: (label of each training example, their embeddings);
    ``slugs``: the help center's articles (a draft never takes one of their names)."""
    labels, examples = intents
    builder = _Builder(
        stored, vectors, list(labels), examples, shlex.quote(str(path)), set(labels), set(slugs)
    )
    clusters, ungrouped = [], []
    for group in groups:
        if group.size < 2:
            ungrouped.append(stored.misses[group.members[0]].text)
        else:
            clusters.append(builder.entry(len(clusters) + 1, group))
    return {
        "version": VERSION,
        "generated_at": now.isoformat(timespec="seconds"),
        "period": {"start": start.isoformat(timespec="seconds"), "end": end.isoformat(timespec="seconds")},
        "conversations": stored.conversations,
        "missed": len(stored.misses),
        "grouped": sum(cluster["size"] for cluster in clusters),
        "clusters": clusters,
        "ungrouped": _distinct(ungrouped)[:UNGROUPED],
    }


@dataclass
class _Builder:
    stored: StoredMisses
    vectors: np.ndarray
    labels: list[str]
    examples: np.ndarray  # embeddings of the intents' training examples
    path: str  # the review file, quoted for a shell
    taken_names: set[str]  # intents, and the names suggested so far: two groups never get one name
    taken_slugs: set[str]

    def entry(self, number: int, group: Group) -> dict[str, Any]:
        misses = [self.stored.misses[i] for i in group.members]
        distinct = _distinct(miss.text for miss in misses)
        matches = suggestions.intent_matches(self.vectors[list(group.members)], self.examples, self.labels)
        extend = suggestions.extends(matches)
        words = suggestions.distinctive_words([m.text for m in misses], [m.text for m in self.stored.misses])
        name = extend.intent if extend else suggestions.intent_name(words, self.taken_names)
        self.taken_names.add(name)
        accept = f"python -m bot review-accept {self.path} --cluster {number}"
        entry: dict[str, Any] = {
            "cluster": number,
            "size": group.size,
            "handed_off": sum(miss.handed_off for miss in misses),
            "resolved_by_agents": sum(miss.resolved_by_agent for miss in misses),
            "examples": distinct[:SHOWN],
            "more_examples": distinct[SHOWN:KEPT],
            "suggestion": {
                "action": "extend_intent" if extend else "new_intent",
                "intent": name,
                "why": _why(extend, matches),
                "nearest_intents": [{"intent": m.intent, "similarity": m.similarity} for m in matches],
                "accept": f"{accept} --as-intent {name}",
            },
        }
        replies = suggestions.answers(
            [r for miss in misses if miss.resolved_by_agent for r in miss.agent_replies]
        )
        if replies:
            slug = suggestions.article_slug(words, self.taken_slugs)
            self.taken_slugs.add(slug)
            entry["article"] = {
                "slug": slug,
                "title": suggestions.article_title(distinct),
                "tags": list(words),
                "questions": distinct[:QUESTIONS],
                "answers": replies,
                "accept": f"{accept} --as-article {slug}",
            }
        return entry


def _why(extend: suggestions.IntentMatch | None, matches: Sequence[suggestions.IntentMatch]) -> str:
    if extend is not None:
        return (
            f"close to the training examples of {extend.intent} (similarity {extend.similarity:.2f} ≥ "
            f"{suggestions.EXTEND_SIMILARITY}): its examples do not cover these wordings yet"
        )
    best = f"; nearest is {matches[0].intent} at {matches[0].similarity:.2f}" if matches else ""
    return f"no intent is close (below {suggestions.EXTEND_SIMILARITY}{best}): a topic the bot does not know"


def _distinct(texts: Iterable[str]) -> list[str]:
    """Texts in order, each wording once (case and spacing ignored)."""
    seen: dict[str, str] = {}
    for text in texts:
        seen.setdefault(" ".join(str(text).lower().split()), str(text))
    return list(seen.values())
