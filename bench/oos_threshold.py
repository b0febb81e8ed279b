"""Out-of-scope benchmark: pick the FallbackClassifier threshold from data, then measure it.

Why: below the threshold the bot says "sorry, I didn't get that" instead of answering.
Too low and it answers questions it does not understand; too high and it turns away
customers it could help. So the threshold is *fitted* on one half of held-out data and
*measured* on the other half, never guessed.

Two settings, each with messages the model never trained on:

- **ours** (what ships): the shipped pipeline trained on our NLU data minus a held-out
  fifth (the same split and cached model as tests/test_nlu_accuracy.py). In scope: the
  English part of that held-out fifth and bench/data/in_scope.yml (written apart from the
  training data). Out of scope: bench/data/out_of_scope.yml (119 messages a smart-home
  store's assistant must not pretend to understand). Both are halved (seeded): one half
  fits, the other measures.
- **banking77** (a public check, ``--only banking77``): 10 of Banking77's 77 intents
  (seeded) are held out as out of scope, as in Banking77-OOS (Zhang et al. 2021). The
  shipped pipeline trains on the other 67 intents minus a 10 % validation split. The
  threshold is fitted on that validation split plus the held-out intents' train.csv rows,
  and measured on test.csv (67 intents in scope, 10 out of scope).

The fitted threshold catches the most out-of-scope messages (answered with
``out_of_scope`` or the fallback) while costing at most 1 point of in-scope accuracy
(right intent at or above the threshold, what the customer gets) against no threshold
(``bot.evaluation.MAX_IN_SCOPE_LOSS`` says why); on a tie the lower threshold wins.
Balanced accuracy (the mean of the two) is reported alongside.

Run: ``.venv/bin/python bench/oos_threshold.py [--only ours|banking77] [--dataset PATH]``
(``--dataset``: the Banking77 folder, as for bench/nlu_banking77.py; only the banking77
setting reads it.)
Writes bench/results/oos_threshold.json and prints the table and the threshold to put in
config.yml.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from nlu_banking77 import (  # noqa: E402
    ENV,
    add_dataset_argument,
    check_dataset,
    log,
    machine_info,
    read_split,
    train,
)

from bot.evaluation import (  # noqa: E402
    Scored,
    ThresholdOutcome,
    answered_share,
    as_scored_items,
    english_only,
    fit_threshold,
    halves,
    held_out_model,
    load_in_scope,
    load_out_of_domain,
    load_out_of_scope,
    outcome,
    score,
)
from bot.training import shipped_fallback_threshold  # noqa: E402

RESULTS = REPO / "bench" / "results" / "oos_threshold.json"
OUT_OF_DOMAIN_EXAMPLES = "out_of_domain.yml"  # in nlu_data/nlu/: the fitting half, as training data
OOS_INTENTS = 10
SEED = 5


def report(name: str, fit: list[Scored], measure: list[Scored]) -> dict[str, Any]:
    fitted = fit_threshold(fit)
    shipped = shipped_fallback_threshold()
    rows: dict[str, ThresholdOutcome] = {
        "no threshold": outcome(measure, 0.0),
        f"shipped ({shipped})": outcome(measure, shipped),
        f"fitted ({fitted.threshold})": outcome(measure, fitted.threshold),
    }
    log(f"[{name}] fitted threshold {fitted.threshold} (fit half: balanced {fitted.balanced:.3f})")
    return {
        "setting": name,
        "fitted_threshold": fitted.threshold,
        "fit": fitted.__dict__ | {"balanced": fitted.balanced},
        "measured": {label: o.__dict__ | {"balanced": o.balanced} for label, o in rows.items()},
    }


def ours() -> dict[str, Any]:
    """Both rows of our setting: before (no out-of-domain training examples) and shipped."""
    by_domain = load_out_of_domain()
    outside = [(text, None) for texts in by_domain.values() for text in texts]
    rows = {}
    for label, skip in (("before", (OUT_OF_DOMAIN_EXAMPLES,)), ("shipped", ())):
        with tempfile.TemporaryDirectory(prefix="oos-ours-") as tmp:
            log(f"[ours/{label}] training (or reusing) the held-out model of our NLU data…")
            model, held_out = held_out_model(Path(tmp), skip=skip)
            items = (
                as_scored_items(english_only(held_out))
                + load_in_scope()
                + [(t, None) for t in load_out_of_scope()]
            )
            log(f"[ours/{label}] scoring {len(items)} held-out and {len(outside)} out-of-domain messages…")
            scored = score(model, items + outside)
        fit, measure = halves(scored[: len(items)])
        rows[label] = report(f"ours ({label})", fit, measure)
        rows[label]["out_of_domain"] = out_of_domain_rows(scored[len(items) :], by_domain, rows[label])
    shipped = rows["shipped"]["measured"]
    baseline = rows["before"]["measured"]["no threshold"]["in_scope_accuracy"]
    rows["shipped"]["in_scope_lost"] = {
        label: baseline - o["in_scope_accuracy"] for label, o in shipped.items()
    }
    return {"before": rows["before"], "shipped": rows["shipped"]}


def out_of_domain_rows(
    scored: list[Scored], by_domain: dict[str, list[str]], result: dict[str, Any]
) -> dict[str, Any]:
    """Share of the measuring half answered at each threshold row, and per domain at the fitted one."""
    fitted = result["fitted_threshold"]
    domain_of = {text: domain for domain, texts in by_domain.items() for text in texts}
    per_domain = {
        domain: answered_share([s for s in scored if domain_of[s.text] == domain], fitted)
        for domain in sorted(by_domain)
    }
    thresholds = {"no threshold": 0.0, "shipped": shipped_fallback_threshold(), "fitted": fitted}
    return {
        "messages": len(scored),
        "domains": len(by_domain),
        "answered": {label: answered_share(scored, t) for label, t in thresholds.items()},
        "answered_by_domain_at_fitted": per_domain,
    }


def banking77(dataset: Path) -> dict[str, Any]:
    train_rows, test_rows = read_split(dataset, "train"), read_split(dataset, "test")
    intents = sorted({intent for _, intent in train_rows})
    outside = set(random.Random(SEED).sample(intents, OOS_INTENTS))
    inside_rows = [(t, i) for t, i in train_rows if i not in outside]
    rng = random.Random(SEED)
    rng.shuffle(inside_rows)
    cut = len(inside_rows) // 10
    validation, training = inside_rows[:cut], inside_rows[cut:]
    with tempfile.TemporaryDirectory(prefix="oos-banking77-") as tmp:
        log(f"[banking77] training on {len(training):,} examples of {len(intents) - OOS_INTENTS} intents…")
        model, seconds = train(training, Path(tmp))
        log(f"[banking77] trained in {seconds:.0f}s; scoring…")
        fit = score(
            model, [(t, i) for t, i in validation] + [(t, None) for t, i in train_rows if i in outside]
        )
        measure = score(model, [(t, None if i in outside else i) for t, i in test_rows])
    result = report("banking77", fit, measure)
    result["out_of_scope_intents"] = sorted(outside)
    return result


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| setting | threshold | in-scope accuracy | out-of-scope recall | balanced "
        "| in-scope n | out-of-scope n |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for label, o in result["measured"].items():
            lines.append(
                f"| {result['setting']} | {label} | {o['in_scope_accuracy']:.1%} "
                f"| {o['out_of_scope_recall']:.1%} | {o['balanced']:.3f} | {o['in_scope']:,} "
                f"| {o['out_of_scope']:,} |"
            )
    return "\n".join(lines)


def out_of_domain_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| model | out-of-domain answered: no threshold | shipped threshold | fitted threshold | messages |",
        "|---|---:|---:|---:|---:|",
    ]
    for result in results:
        ood = result["out_of_domain"]
        answered = ood["answered"]
        lines.append(
            f"| {result['setting']} | {answered['no threshold']:.1%} | {answered['shipped']:.1%} "
            f"| {answered['fitted']:.1%} | {ood['messages']} ({ood['domains']} domains) |"
        )
    worst = sorted(results[0]["out_of_domain"]["answered_by_domain_at_fitted"].items(), key=lambda x: -x[1])
    lines.append(
        "\nMost answered domains (shipped model, fitted threshold): "
        + ", ".join(f"{domain} {share:.0%}" for domain, share in worst[:6])
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["ours", "banking77"], help="run one setting (default: both)")
    add_dataset_argument(parser)
    args = parser.parse_args()
    dataset = check_dataset(args.dataset) if args.only != "ours" else None
    os.environ.update(ENV)
    results = []
    if args.only != "banking77":
        mine = ours()
        results += [mine["shipped"], mine["before"]]
    if args.only != "ours":
        assert dataset is not None
        results.append(banking77(dataset))
    print("\nMeasured on the held-out half (never used to fit):\n")
    print(table(results))
    if results[0]["setting"] == "ours (shipped)":
        print("\n" + out_of_domain_table(results[:2]))
        lost = results[0]["in_scope_lost"]
        print(
            "\nIn-scope accuracy lost to the rejection (out-of-domain examples and threshold), against "
            "the model without them at no threshold: "
            + ", ".join(f"{label} {points:+.1%}" for label, points in lost.items())
        )
        print(f"\n==> config.yml FallbackClassifier threshold: {results[0]['fitted_threshold']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    by_setting = {r["setting"]: r for r in previous.get("results", [])} | {r["setting"]: r for r in results}
    RESULTS.write_text(
        json.dumps({"machine": machine_info(), "results": list(by_setting.values())}, indent=2) + "\n"
    )
    log(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
