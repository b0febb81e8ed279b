"""``python -m bot review-misses [--since DAYS] [--out PATH]`` and ``review-accept`` (wired in bot/cli.py).

``review-misses`` reads the stored conversations (the tracker store of the endpoints file
Rasa runs with, and the handoffs in ``SUPPORTBOT_DATABASE_URL``), groups the first messages
the bot missed and writes the review file (default ``.data/reviews/misses-<time>.yml``).
``review-accept FILE --cluster N --as-intent NAME | --as-article SLUG`` turns one group into
Rasa NLU examples or a help-center draft. Each step is printed; a problem is one ``error:``
line naming the setting or option to change, never a stack trace.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.review.clustering import DEFAULT_DISTANCE
from bot.settings import cache_dir, customer_database_url, data_dir, project_root

DEFAULT_DAYS = 30
# Most missed messages grouped in one review: the grouping compares every pair (5,000 take ~2 s
# and 200 MB), embedding them ~40 s on 2 cores.
MAX_MESSAGES = 5000


def add_commands(commands: Any) -> None:
    """Add ``review-misses`` and ``review-accept`` to the ``supportbot`` subparsers."""
    review = commands.add_parser(
        "review-misses", help="group the questions the bot missed and suggest intents and articles"
    )
    review.add_argument(
        "--since", type=int, default=DEFAULT_DAYS, metavar="DAYS",
        help=f"conversations that started in the last DAYS days (default {DEFAULT_DAYS})",
    )  # fmt: skip
    review.add_argument(
        "--out", type=Path, default=None,
        help="the review file to write (default: .data/reviews/misses-<time>.yml)",
    )  # fmt: skip
    review.add_argument(
        "--endpoints", type=Path, default=None,
        help="the endpoints file Rasa runs with (default: endpoints.yml; "
        "endpoints.production.yml when SUPPORTBOT_ENVIRONMENT=production)",
    )  # fmt: skip
    review.add_argument(
        "--distance", type=float, default=DEFAULT_DISTANCE,
        help=f"how far apart one group's messages may be on average (cosine, default {DEFAULT_DISTANCE}); "
        "lower: smaller, tighter groups",
    )  # fmt: skip
    review.set_defaults(func=cmd_review_misses)

    accept = commands.add_parser(
        "review-accept", help="turn a group of the review into NLU examples or a help-center article"
    )
    accept.add_argument("review_file", type=Path, help="a file written by review-misses")
    accept.add_argument("--cluster", type=int, required=True, help="the group's number in the file")
    what = accept.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--as-intent", metavar="NAME",
        help="write nlu_data/nlu/learned_NAME.yml (a new intent is added to domain.yml)",
    )  # fmt: skip
    what.add_argument("--as-article", metavar="SLUG", help="write the draft article knowledge/SLUG.md")
    accept.add_argument("--title", help="--as-article: the article's title (default: the draft's)")
    accept.set_defaults(func=cmd_review_accept)


def _say(line: str) -> None:
    print(f"    {line}", flush=True)


def cmd_review_misses(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db import where
    from bot.experience.cli import endpoints_file
    from bot.experience.tracker_events import TrackerStoreError, tracker_url
    from bot.migrations import schema_problem
    from bot.review.misses import ReviewStoreError, require_tracker_table, stored_misses

    if args.since < 1:
        print(f"error: --since must be 1 or more days, not {args.since}", file=sys.stderr)
        return 2
    database = customer_database_url()
    problem = schema_problem(database)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    endpoints = endpoints_file(args.endpoints)
    if not endpoints.exists():
        print(f"error: the endpoints file {endpoints} does not exist; pass --endpoints FILE "
              "(the one Rasa runs with)", file=sys.stderr)  # fmt: skip
        return 2
    started, now = time.monotonic(), datetime.now(UTC)
    start = now - timedelta(days=args.since)
    try:
        tracker = tracker_url(endpoints, data_dir())
        require_tracker_table(tracker, endpoints)
        print(f"==> reading the conversations of the last {args.since} days ({endpoints.name}: tracker store "
              f"{where(tracker)}; handoffs in {where(database)}) ...", flush=True)  # fmt: skip
        stored = stored_misses(
            tracker, database, start, now, domain_file=project_root() / "domain.yml",
            expiration_minutes=_session_minutes(), progress=_say,
        )  # fmt: skip
    except (TrackerStoreError, ReviewStoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"error: cannot read the stores ({exc.__class__.__name__}: {str(exc).splitlines()[0]}); check "
              "SUPPORTBOT_DATABASE_URL, the tracker store in the endpoints file, and that the database "
              "server is up", file=sys.stderr)  # fmt: skip
        return 1
    if not stored.conversations:
        print(f"error: no conversations started in the last {args.since} days in the tracker store "
              f"{where(tracker)}: try a longer --since, check that SUPPORTBOT_DATA_DIR (or --endpoints) "
              "names the store the bot writes, or let customers talk to the bot first",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"==> {stored.conversations:,} conversations, {len(stored.misses):,} missed "
          f"(not understood, out of scope or handed off)", flush=True)  # fmt: skip
    out = args.out or default_out(now)
    try:
        document = review_document(stored, out, start, now, args.distance)
        from bot.review.review_file import write_review

        write_review(document, out)
    except OSError as exc:
        print(f"error: cannot write the review {out} ({exc.strerror or exc}); choose another --out",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"==> wrote the review: {out} ({time.monotonic() - started:.1f} s)")
    for cluster in document["clusters"][:10]:
        suggestion = cluster["suggestion"]
        verb = "extend" if suggestion["action"] == "extend_intent" else "new intent"
        article = f", article draft {cluster['article']['slug']}" if "article" in cluster else ""
        print(f"    {cluster['cluster']:>3}. {cluster['size']:>4} × “{cluster['examples'][0]}” → "
              f"{verb} {suggestion['intent']}{article}")  # fmt: skip
    if not document["clusters"]:
        print("    no group of two or more similar missed messages yet")
    return 0


def default_out(now: datetime) -> Path:
    from bot.review.review_file import default_path

    return default_path(data_dir() / "reviews", now)


def review_document(
    stored: Any, out: Path, start: datetime, now: datetime, distance: float
) -> dict[str, Any]:
    """Embed, group and suggest: the review of ``stored`` (the slow part, with progress lines)."""
    import numpy as np

    from bot.review.building import build_review
    from bot.review.clustering import cluster
    from bot.review.embeddings import embed, encoder_model, example_embeddings, intent_examples

    root = project_root()
    if len(stored.misses) > MAX_MESSAGES:
        _say(f"grouping the newest {MAX_MESSAGES:,} of them (a shorter --since reviews the rest)")
        newest = sorted(stored.misses, key=lambda miss: miss.at)[-MAX_MESSAGES:]
        stored = replace(stored, misses=tuple(newest))
    model = encoder_model(root / "config.yml")
    texts = [miss.text for miss in stored.misses]
    labels, examples = intent_examples(root / "nlu_data" / "nlu")
    if texts:
        print(f"==> embedding {len(texts):,} missed messages with {model} ...", flush=True)
        vectors = embed(model, texts, "missed messages", _say)
        example_vectors = example_embeddings(model, labels, examples, cache_dir() / "review", _say)
        print("==> grouping and suggesting ...", flush=True)
        groups = cluster(vectors, distance)
    else:
        vectors, example_vectors, groups = np.zeros((0, 0)), np.zeros((0, 0)), []
    slugs = {path.stem for path in (root / "knowledge").glob("*.md")}
    return build_review(
        stored,
        groups,
        vectors,
        (labels, example_vectors),
        path=out,
        start=start,
        end=now,
        now=now,
        slugs=slugs,
    )


def _session_minutes() -> float:
    domain = yaml.safe_load((project_root() / "domain.yml").read_text(encoding="utf-8")) or {}
    return float((domain.get("session_config") or {}).get("session_expiration_time", 60) or 60)


def cmd_review_accept(args: argparse.Namespace) -> int:
    from bot.review.accept import AcceptError, accept_article, accept_intent, answer_template
    from bot.review.review_file import ReviewFileError, cluster_of, load_review

    root = project_root()
    try:
        cluster = cluster_of(load_review(args.review_file), args.cluster, args.review_file)
        if args.as_intent is not None:
            source = f"Accepted from {args.review_file.name}, cluster {args.cluster} (review-accept)"
            done = accept_intent(root, cluster, args.as_intent, source)
        else:
            path = accept_article(root, cluster, args.as_article, args.title)
    except (AcceptError, ReviewFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot write into {root} ({exc.strerror or exc})", file=sys.stderr)
        return 1
    if args.as_intent is None:
        print(f"==> wrote the article draft {path}")
        print("    edit it (title, wording, facts; knowledge/README.md) before the next training: "
              "./scripts/run.sh or python -m bot train puts it live")  # fmt: skip
        return 0
    left = f"; {done.duplicates} left out (already training examples)" if done.duplicates else ""
    print(f"==> wrote {done.examples} examples of {done.intent} to {done.path}{left}")
    if done.new_intent:
        print(f"==> added {done.intent} to domain.yml intents:. It needs an answer before you retrain:")
        print("\n".join(f"    {line}" for line in answer_template(done.intent).splitlines()))
    print("    then retrain: ./scripts/run.sh (or python -m bot train); ./scripts/test.sh wants "
          "≥ 20 examples per intent")  # fmt: skip
    return 0
