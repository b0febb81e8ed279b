"""Exploration (b) of bench/explore_fewshot.py: a SetFit-style contrastive fine-tune of MiniLM.

Why a module of its own: the rest of the exploration runs on cached frozen embeddings; this
part trains the encoder (MultipleNegativesRankingLoss on same-intent pairs, batches without
repeated intents, 1 epoch) and then fits the same heads. Run it through the parent script:

    .venv/bin/python bench/explore_fewshot.py finetune --setting 10-shot --seed 13 [--pairs N --lr X]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from explore_fewshot import (  # noqa: E402
    Rows,
    capped_shots,
    embed,
    encoder,
    few_shot,
    heads,
    load_data,
    log,
    save,
    validation_split,
)


def pair_batches(rows: Rows, pairs: int, batch: int, seed: int) -> list[list[tuple[str, str]]]:
    """``pairs`` (anchor, same-intent positive) pairs in batches with no intent twice (no false negatives)."""
    rng = np.random.default_rng(seed)
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in rows:
        by_intent[intent].append(text)
    order = np.concatenate([rng.permutation(len(rows)) for _ in range(-(-pairs // len(rows)))])[:pairs]
    queues: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for k in order:
        text, intent = rows[k]
        others = [t for t in by_intent[intent] if t != text] or [text]
        queues[intent].append((text, others[rng.integers(len(others))]))
    batches = []
    while any(queues.values()):
        live = [i for i in queues if queues[i]]
        counts = np.array([len(queues[i]) for i in live], dtype=float)
        pick = rng.choice(len(live), size=min(batch, len(live)), replace=False, p=counts / counts.sum())
        batches.append([queues[live[k]].pop() for k in pick])
    return batches


def finetune(rows: Rows, pairs: int, lr: float, batch: int, seed: int) -> tuple[Any, float]:
    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    torch.manual_seed(seed)
    model = encoder()
    batches = pair_batches(rows, pairs, batch, seed)
    loss_fn = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, len(batches) // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (len(batches) - s) / (len(batches) - warm)))
    )
    model.train()
    start = time.monotonic()
    for step, pb in enumerate(batches):
        features = [model.preprocess([a for a, _ in pb]), model.preprocess([p for _, p in pb])]
        loss = loss_fn(features, None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if step % 20 == 0:
            log(f"  step {step}/{len(batches)} loss {loss.item():.3f}")
    model.eval()
    return model, time.monotonic() - start


def cmd_finetune(args: argparse.Namespace) -> None:
    train, test = load_data()
    names = sorted({i for _, i in train})
    if args.setting == "10-shot":
        sample = few_shot(train, 10, args.seed)
        chosen = set(sample)
        rest = [r for r in train if r not in chosen]
        val = capped_shots(rest, 10, seed=args.seed + 100)  # 10/intent of the rest of train.csv
    else:
        args.seed = None
        sample, val = validation_split(train)  # full: fine-tune + fit on 85 %, choose on 15 %
        if args.final:
            sample, val = train, []
    log(f"[{args.setting}] {len(sample)} examples: {args.pairs} pairs, lr {args.lr}, batch {args.batch}")
    model, ft_seconds = finetune(sample, args.pairs, args.lr, args.batch, args.seed or 13)
    log(f"fine-tune {ft_seconds:.1f}s")
    start = time.monotonic()
    emb_train = embed(model, [t for t, _ in sample])
    embed_seconds = time.monotonic() - start
    evals = {"test": (embed(model, [t for t, _ in test]), test)}
    if val:
        evals["val"] = (embed(model, [t for t, _ in val]), val)
    variant = f"MNRL pairs={args.pairs} lr={args.lr} batch={args.batch}" + (
        " (85% train)" if val and args.seed is None else ""
    )
    rows = []
    for r in heads(emb_train, sample, evals, names, [0.0, 0.2, 0.4, 0.8], [1.0]):
        rows.append(
            {
                "setting": args.setting,
                "seed": args.seed,
                "variant": variant,
                "train_examples": len(sample),
                "finetune_seconds": ft_seconds,
                "embed_train_seconds": embed_seconds,
                **r,
            }
        )
    save(rows)
