"""Spanish and German: is the language detected, and is the intent right, on held-out messages?

Held-out set: bench/data/languages.yml (messages per intent in es and de, written apart from
the training examples in nlu_data/nlu/languages_*.yml; never trained or fitted on). The
English side: every English training example, which must never be taken for another
language (a wrong switch answers an English customer in Spanish), and the out-of-domain
measuring half (bench/data/out_of_domain.yml).

Reports per language, with the shipped model (``python -m bot train``'s cached model):
- detected: share of messages the detector puts in the right language at config.yml's
  ``supported_confidence`` (short ones such as "sí, claro" are meant to stay undecided: the
  conversation keeps its language), and the share put in a wrong language;
- intent: top intent right (as bench/oos_threshold.py counts it, fallback aside), and
  answered right (the final intent after the fallback threshold is the expected one).

Usage: .venv/bin/python bench/languages.py  (~1 min; prints a table, writes
bench/results/languages.json)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.evaluation import Example, evaluate, load_examples, load_out_of_domain  # noqa: E402
from bot.nlu.language_detection import detect  # noqa: E402
from bot.training import ensure_model, shipped_component  # noqa: E402

HELD_OUT = REPO / "bench" / "data" / "languages.yml"
RESULTS = REPO / "bench" / "results" / "languages.json"


def detector_config() -> dict[str, float]:
    component = shipped_component("LanguageDetector")
    if component is None:
        raise SystemExit("config.yml has no LanguageDetector: nothing to measure")
    return {k: float(component[k]) for k in ("supported_confidence", "other_confidence")}


def held_out() -> dict[str, list[Example]]:
    document = yaml.safe_load(HELD_OUT.read_text(encoding="utf-8"))
    return {
        language: [Example(intent, text) for intent, texts in intents.items() for text in texts]
        for language, intents in document.items()
    }


def detection(texts: list[str], expected: str, threshold: float) -> dict[str, float]:
    found = [detect(text, threshold) for text in texts]
    right = sum(1 for f in found if f and f.language == expected)
    wrong = sum(1 for f in found if f and f.language != expected)
    return {"messages": len(texts), "detected": right / len(texts), "wrong_language": wrong / len(texts)}


def main() -> None:
    started = time.time()
    config = detector_config()
    print("==> the shipped model (trains once if data or config changed) ...", flush=True)
    model = ensure_model()
    rows: dict[str, Any] = {}
    for language, examples in held_out().items():
        print(f"==> {language}: {len(examples)} held-out messages ...", flush=True)
        report = evaluate(model, examples)
        rows[language] = {
            **detection([e.plain_text for e in examples], language, config["supported_confidence"]),
            "intents": len({e.intent for e in examples}),
            "top_intent_right": report.accuracy,
            "answered_right": report.answered_right,
            "mistakes": [m[1:] for m in report.mistakes[:10]],
        }
    english = [e.plain_text for e in load_examples(skip=("languages_es.yml", "languages_de.yml"))]
    domains = [text for texts in load_out_of_domain().values() for text in texts]
    rows["en (training examples)"] = detection(english, "en", config["supported_confidence"])
    rows["en (out-of-domain)"] = detection(domains, "en", config["supported_confidence"])
    print(table(rows))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    result = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "detector": config, "rows": rows,
              "seconds": round(time.time() - started)}  # fmt: skip
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(REPO)}")


def table(rows: dict[str, Any]) -> str:
    lines = [
        "| messages | n | detected | wrong language | top intent right | answered right |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        intent = f"{row['top_intent_right']:.1%}" if "top_intent_right" in row else "—"
        answered = f"{row['answered_right']:.1%}" if "answered_right" in row else "—"
        lines.append(
            f"| {name} | {row['messages']} | {row['detected']:.1%} | {row['wrong_language']:.1%} "
            f"| {intent} | {answered} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
