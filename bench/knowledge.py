"""Knowledge-base benchmark: does the help-center search find the right article, and decline?

Why these three figures: a customer asking a long-tail question wants the right article
(top-1 hit rate), is misled by a confident wrong one (answered with a wrong article), and
for a question no article covers should get "I'm not sure" and a person, not a guess
(correctly declined).

Data, all written independently of each other:

- the index: knowledge/*.md, with each article's ``questions:`` (ways customers ask);
- held-out questions → articles, and in-domain questions no article answers:
  bench/data/knowledge_questions.yml, written from the article titles alone. Never used to fit;
- out-of-domain messages: the fitting half (nlu_data/nlu/out_of_domain.yml) fits the threshold,
  the measuring half (bench/data/out_of_domain.yml) is reported.

What is fitted, and on what (never on the held-out questions):

- ``weight`` (cosine vs BM25) and ``saturation`` (BM25 scale): the best top-1 when each
  article's own ``questions:`` are asked of an index built without them (leave one article's
  questions out at a time);
- ``threshold``: the lowest score at which at most ``OOD_BUDGET`` of the fitting half of the
  out-of-domain messages would get an article.

Run: ``.venv/bin/python bench/knowledge.py`` (about a minute; embeds with the packaged MiniLM,
no Rasa). Prints the table and the values for config.yml; writes bench/results/knowledge.json.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from nlu_banking77 import log, machine_info  # noqa: E402

from bot.evaluation import load_examples, load_out_of_domain  # noqa: E402
from bot.knowledge import Article, KnowledgeIndex, load_articles  # noqa: E402
from bot.knowledge.units import build_index  # noqa: E402

RESULTS = REPO / "bench" / "results" / "knowledge.json"
QUESTIONS = REPO / "bench" / "data" / "knowledge_questions.yml"
OOD_BUDGET = 0.02  # out-of-domain messages that may get an article (the classifier catches most)
WEIGHTS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4)
SATURATIONS = (2.0, 5.0, 10.0)


def memo_embedder() -> Callable[[list[str]], np.ndarray]:
    """MiniLM embeddings, each text embedded once however many indexes are built."""
    from bot.nlu.sentence_featurizer import PACKAGED_MODEL, embed_texts

    cache: dict[str, np.ndarray] = {}

    def embed(texts: list[str]) -> np.ndarray:
        new = sorted({t for t in texts if t not in cache})
        if new:
            cache.update(zip(new, embed_texts(PACKAGED_MODEL, new), strict=True))
        return np.array([cache[t] for t in texts], dtype=np.float32)

    return embed


def best_hits(index: KnowledgeIndex, texts: list[str], embed: Callable) -> list[Any]:
    vectors = embed(texts)
    return [(index.search(t, v, top_k=1) or [None])[0] for t, v in zip(texts, vectors, strict=True)]


def leave_questions_out_top1(
    articles: list[Article], embed: Callable, weight: float, saturation: float
) -> float:
    """Top-1 of each article's own ``questions:`` against an index built without them."""
    right = total = 0
    for n, article in enumerate(articles):
        others = [*articles[:n], replace(article, questions=()), *articles[n + 1 :]]
        index = build_index(others, embed, weight, saturation)
        hits = best_hits(index, list(article.questions), embed)
        right += sum(1 for hit in hits if hit is not None and hit.passage.slug == article.slug)
        total += len(hits)
    return right / total if total else 0.0


def fit(articles: list[Article], embed: Callable) -> dict[str, Any]:
    grid = []
    for weight in WEIGHTS:
        for saturation in SATURATIONS:
            top1 = leave_questions_out_top1(articles, embed, weight, saturation)
            grid.append({"weight": weight, "saturation": saturation, "questions_left_out_top1": top1})
            log(f"  fit: weight {weight}, saturation {saturation}: top-1 {top1:.1%} (articles' questions)")
    chosen = max(grid, key=lambda g: (round(g["questions_left_out_top1"], 6), g["weight"]))
    index = build_index(articles, embed, chosen["weight"], chosen["saturation"])
    fitting_ood = [e.plain_text for e in load_examples() if e.intent == "out_of_scope"]
    scores = np.array([hit.score for hit in best_hits(index, fitting_ood, embed) if hit is not None])
    threshold = round(float(np.quantile(scores, 1 - OOD_BUDGET)) + 0.005, 2)
    return {**chosen, "threshold": threshold, "grid": grid, "fitting_out_of_domain": len(fitting_ood)}


def measure(index: KnowledgeIndex, threshold: float, embed: Callable) -> dict[str, Any]:
    data = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    questions, unanswerable = data["questions"], data["unanswerable"]
    hits = best_hits(index, [str(q["q"]) for q in questions], embed)
    right = [h is not None and h.passage.slug == q["article"] for h, q in zip(hits, questions, strict=True)]
    answered = [h is not None and h.score >= threshold for h in hits]
    outside = [t for texts in load_out_of_domain().values() for t in texts]
    declined = [h is None or h.score < threshold for h in best_hits(index, list(unanswerable), embed)]
    ood_declined = [h is None or h.score < threshold for h in best_hits(index, outside, embed)]
    misses = [
        {"q": q["q"], "expected": q["article"], "got": h.passage.slug if h else None}
        for h, q, ok in zip(hits, questions, right, strict=True)
        if not ok
    ]
    return {
        "questions": len(questions),
        "top1": float(np.mean(right)),
        "answered_right": float(np.mean([a and r for a, r in zip(answered, right, strict=True)])),
        "answered_wrong": float(np.mean([a and not r for a, r in zip(answered, right, strict=True)])),
        "not_answered": float(np.mean([not a for a in answered])),
        "unanswerable": len(unanswerable),
        "unanswerable_declined": float(np.mean(declined)),
        "out_of_domain": len(outside),
        "out_of_domain_declined": float(np.mean(ood_declined)),
        "misses": misses,
    }


def table(fitted: dict[str, Any], measured: dict[str, Any]) -> str:
    m = measured
    return "\n".join(
        [
            "| held-out questions | top-1 (no threshold) | answered, right article | answered, wrong article "
            "| not answered | unanswerable declined | out-of-domain declined |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {m['questions']} | {m['top1']:.1%} | {m['answered_right']:.1%} | {m['answered_wrong']:.1%} "
            f"| {m['not_answered']:.1%} | {m['unanswerable_declined']:.1%} of {m['unanswerable']} "
            f"| {m['out_of_domain_declined']:.1%} of {m['out_of_domain']} |",
            "",
            f"Fitted: weight {fitted['weight']}, saturation {fitted['saturation']} (articles' own questions "
            f"left out: top-1 {fitted['questions_left_out_top1']:.1%}); threshold {fitted['threshold']} "
            f"(at most {OOD_BUDGET:.0%} of {fitted['fitting_out_of_domain']} fitting out-of-domain "
            "messages get an article).",
        ]
    )


def main() -> None:
    started = time.monotonic()
    articles = load_articles(REPO / "knowledge")
    log(f"{len(articles)} articles, {sum(len(a.questions) for a in articles)} article questions; fitting…")
    embed = memo_embedder()
    fitted = fit(articles, embed)
    index = build_index(articles, embed, fitted["weight"], fitted["saturation"])
    measured = measure(index, fitted["threshold"], embed)
    print("\n" + table(fitted, measured))
    print(
        f"\n==> config.yml KnowledgeRetriever: threshold: {fitted['threshold']}, weight: {fitted['weight']}, "
        f"saturation: {fitted['saturation']}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine_info(), "seconds": time.monotonic() - started, "fit": fitted, **measured}
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
