"""NLU accuracy benchmark of the shipped pipeline on Banking77 (full data and 10-shot).

Why: our own NLU data is small (36 intents, ~28 examples each), so held-out numbers on it are
noisy and say nothing about how the shipped pipeline compares with published intent
classifiers. Banking77 (Casanueva et al. 2020) is a public set of real online-banking customer
queries, 77 fine-grained intents, with published full-data and few-shot anchors. This script
trains the *shipped* ``config.yml`` pipeline with Rasa's own ``rasa train nlu``, evaluates it
in-process with ``Agent.parse_message`` on the official test split, and records accuracy,
macro-F1, training time, model size, parse throughput and peak RSS.

Run: ``.venv/bin/python bench/nlu_banking77.py [--dataset PATH] [--shots 10] [--only full|few]``

The dataset is not part of this repository: ``--dataset`` names a folder with Banking77's
``train.csv`` and ``test.csv`` (default: ``../shared/datasets/banking77`` next to the repo);
see bench/README.md for where to get it (CC BY 4.0).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = REPO.parent / "shared" / "datasets" / "banking77"
DATASET_SOURCE = "https://github.com/PolyAI-LDN/task-specific-datasets (banking_data/, CC BY 4.0)"
RESULTS = REPO / "bench" / "results" / "nlu_banking77.json"
SEED = 13  # fixed seed for the few-shot sample (random.Random(SEED), per intent, sorted intents)
FALLBACK = "nlu_fallback"
ENV = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
PUBLISHED = [
    ("full data, fine-tuned BERT or USE+ConveRT (Casanueva et al. 2020)", "93.4-93.7 % accuracy"),
    ("10-shot, best model (Casanueva et al. 2020)", "~85-86 % accuracy"),
]

T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


def add_dataset_argument(parser: argparse.ArgumentParser) -> None:
    """``--dataset PATH``, shared with bench/oos_threshold.py."""
    parser.add_argument(
        "--dataset",
        type=Path,
        default=DEFAULT_DATASET,
        help=f"folder with Banking77's train.csv and test.csv (default: {DEFAULT_DATASET})",
    )


def check_dataset(dataset: Path) -> Path:
    """The dataset folder, or exit 2 naming --dataset before any minute is spent training."""
    missing = [name for name in ("train.csv", "test.csv") if not (dataset / name).is_file()]
    if missing:
        print(
            f"error: Banking77 not found: {dataset} has no {' or '.join(missing)}.\n"
            "       Point --dataset PATH at a folder with Banking77's train.csv and test.csv\n"
            f"       (columns text,category), e.g. a copy of {DATASET_SOURCE}.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return dataset


def read_split(dataset: Path, name: str) -> list[tuple[str, str]]:
    with (dataset / f"{name}.csv").open(newline="", encoding="utf-8") as f:
        # Collapse whitespace: one train text contains a newline, which would break the YAML list.
        return [(" ".join(row["text"].split()), row["category"]) for row in csv.DictReader(f)]


def few_shot(rows: list[tuple[str, str]], shots: int, seed: int = SEED) -> list[tuple[str, str]]:
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in rows:
        by_intent[intent].append(text)
    rng = random.Random(seed)
    return [(t, i) for i in sorted(by_intent) for t in rng.sample(by_intent[i], shots)]


def write_nlu_yaml(rows: list[tuple[str, str]], path: Path) -> None:
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in rows:
        # Rasa reads "[x](entity)" as an entity annotation; Banking77 has no entities.
        by_intent[intent].append(text.replace("[", "(").replace("]", ")"))
    nlu = [{"intent": i, "examples": "".join(f"- {t}\n" for t in texts)} for i, texts in by_intent.items()]
    path.write_text(yaml.safe_dump({"version": "3.1", "nlu": nlu}, sort_keys=False, width=10_000))


def train(rows: list[tuple[str, str]], tmp: Path) -> tuple[Path, float]:
    """Train with the shipped pipeline (policies and help center dropped) via ``rasa train nlu``."""
    config = yaml.safe_load((REPO / "config.yml").read_text())
    config.pop("policies", None)
    # The help center is Hearthlink's (knowledge/): a bank's questions would be searched in a
    # smart-home store's articles. Classification is what this benchmark measures.
    config["pipeline"] = [c for c in config["pipeline"] if not c["name"].endswith("KnowledgeRetriever")]
    (tmp / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    write_nlu_yaml(rows, tmp / "nlu.yml")
    cmd = [sys.executable, "-m", "rasa", "train", "nlu", "--config", "config.yml", "--nlu", "nlu.yml"]
    cmd += ["--out", "models", "--fixed-model-name", "banking77", "--quiet"]
    env = {**os.environ, **ENV, "PYTHONPATH": str(REPO)}
    start = time.monotonic()
    # cwd=tmp so the repo's domain.yml and data are not picked up; PYTHONPATH finds ``bot``.
    subprocess.run(cmd, cwd=tmp, env=env, check=True)
    return tmp / "models" / "banking77.tar.gz", time.monotonic() - start


async def evaluate(model: Path, test: list[tuple[str, str]]) -> dict[str, Any]:
    from rasa.core.agent import Agent
    from sklearn.metrics import accuracy_score, f1_score

    agent = Agent.load(str(model))
    await agent.parse_message("warm up")
    gold, top, shown = [], [], []
    start = time.monotonic()
    for n, (text, intent) in enumerate(test, 1):
        if n % 1000 == 0:
            log(f"  parsed {n:,}/{len(test):,}")
        parsed = await agent.parse_message(text)
        ranking = [r["name"] for r in parsed.get("intent_ranking", []) if r["name"] != FALLBACK]
        gold.append(intent)
        shown.append(parsed["intent"]["name"])
        top.append(ranking[0] if ranking else FALLBACK)
    seconds = time.monotonic() - start
    return {
        "accuracy": accuracy_score(gold, top),
        "accuracy_fallback_wrong": accuracy_score(gold, shown),
        "fallback_rate": shown.count(FALLBACK) / len(shown),
        "macro_f1": f1_score(gold, top, average="macro"),
        # Fallbacks count as misses of the gold intent (recall) but, as "nlu_fallback" is not a label,
        # not as false positives of another intent: this can come out above the top-intent macro-F1.
        "macro_f1_fallback_wrong": f1_score(gold, shown, average="macro", labels=sorted(set(gold))),
        "parse_msg_per_s": len(test) / seconds,
        "parse_seconds": seconds,
    }


def run_setting(name: str, train_rows: list[tuple[str, str]], test: list[tuple[str, str]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"banking77-{name}-") as tmp_dir:
        tmp = Path(tmp_dir)
        log(f"[{name}] training on {len(train_rows):,} examples…")
        model, train_s = train(train_rows, tmp)
        size_mb = model.stat().st_size / 1e6
        log(f"[{name}] trained in {train_s:.1f}s, model {size_mb:.1f} MB; parsing {len(test):,} test msgs…")
        metrics = asyncio.run(evaluate(model, test))
    log(f"[{name}] accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}")
    return {
        "setting": name,
        "train_examples": len(train_rows),
        "train_seconds": train_s,
        "model_mb": size_mb,
        **metrics,
    }


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| setting | train examples | train time s | model MB | accuracy | accuracy (fallback = wrong) "
        "| macro-F1 | parse msg/s |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(
            f"| {r['setting']} | {r['train_examples']:,} | {r['train_seconds']:.1f} | {r['model_mb']:.1f} "
            f"| {r['accuracy']:.1%} | {r['accuracy_fallback_wrong']:.1%} | {r['macro_f1']:.3f} "
            f"| {r['parse_msg_per_s']:.0f} |"
        )
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "rasa": version("rasa"),
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_argument(parser)
    parser.add_argument("--shots", type=int, default=10, help="examples per intent in few-shot mode")
    parser.add_argument("--only", choices=["full", "few"], help="run one setting only (default: both)")
    args = parser.parse_args()
    dataset = check_dataset(args.dataset)
    os.environ.update(ENV)

    train_rows, test = read_split(dataset, "train"), read_split(dataset, "test")
    log(f"Banking77: {len(train_rows):,} train / {len(test):,} test, {len({i for _, i in test})} intents")
    results = []
    if args.only != "few":
        results.append(run_setting("full", train_rows, test))
    if args.only != "full":
        results.append(run_setting(f"{args.shots}-shot", few_shot(train_rows, args.shots), test))

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print("\n" + table(results))
    print(f"\nPeak RSS: evaluation process {peak_mb:.0f} MB, training subprocess {child_mb:.0f} MB")
    print("\nPublished anchors (Casanueva et al. 2020, arXiv 2003.04807), NOT measured here:")
    for label, value in PUBLISHED:
        print(f"  {label}: {value}")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": machine_info(),
        "few_shot_seed": SEED,
        "peak_rss_mb": {"evaluation_process": peak_mb, "training_subprocess": child_mb},
        "results": results,
        "published_anchors_not_measured": dict(PUBLISHED),
    }
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    log(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
