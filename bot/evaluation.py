"""Held-out NLU evaluation: split our examples, train on one part, score the other.

A deterministic, stratified split (same seed → same split) so the accuracy the tests
report is comparable from run to run, and the trained model is cached by content.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.settings import project_root

_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]+\)")


@dataclass(frozen=True)
class Example:
    intent: str
    text: str  # as written in the data, with [entity](annotations)

    @property
    def plain_text(self) -> str:
        return _ANNOTATION.sub(r"\1", self.text)


@dataclass
class Report:
    total: int = 0
    correct: int = 0
    confusions: Counter = field(default_factory=Counter)  # (expected, predicted) -> count
    mistakes: list[tuple[str, str, float, str]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def summary(self, limit: int = 15) -> str:
        lines = [f"intent accuracy {self.accuracy:.1%} ({self.correct}/{self.total})"]
        lines += [
            f"  expected {exp:<22} got {got:<22} ({conf:.2f}) {text!r}"
            for exp, got, conf, text in self.mistakes[:limit]
        ]
        return "\n".join(lines)


def load_examples(nlu_dir: Path | None = None) -> list[Example]:
    examples = []
    for path in sorted((nlu_dir or project_root() / "nlu_data" / "nlu").glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" not in block:
                continue
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    examples.append(Example(block["intent"], line[2:].strip()))
    return examples


def stratified_split(
    examples: list[Example], test_fraction: float = 0.2, seed: int = 7
) -> tuple[list[Example], list[Example]]:
    by_intent: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_intent[example.intent].append(example)
    rng = random.Random(seed)
    train, test = [], []
    for intent in sorted(by_intent):
        group = sorted(by_intent[intent], key=lambda e: e.text)
        rng.shuffle(group)
        cut = max(1, round(len(group) * test_fraction))
        test += group[:cut]
        train += group[cut:]
    return train, test


def write_nlu_file(examples: list[Example], path: Path) -> Path:
    by_intent: dict[str, list[str]] = defaultdict(list)
    for example in examples:
        by_intent[example.intent].append(example.text)
    data = {
        "version": "3.1",
        "nlu": [
            {"intent": intent, "examples": "".join(f"- {text}\n" for text in texts)}
            for intent, texts in by_intent.items()
        ],
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def evaluate(model_path: Path, test: list[Example]) -> Report:
    """Parse every held-out example with the trained model; count top-intent hits."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model_path))

    async def parse_all() -> Report:
        report = Report()
        for example in test:
            result = await agent.parse_message(example.plain_text)
            ranking = [r for r in result["intent_ranking"] if r["name"] != "nlu_fallback"]
            best = ranking[0] if ranking else {"name": "", "confidence": 0.0}
            report.total += 1
            if best["name"] == example.intent:
                report.correct += 1
            else:
                report.confusions[(example.intent, best["name"])] += 1
                report.mistakes.append((example.intent, best["name"], best["confidence"], example.plain_text))
        return report

    return asyncio.run(parse_all())
