"""The weekly digest's "groups of missed questions": the top groups of the newest review file.

Why from the file and not computed for the digest: grouping needs the sentence encoder
(~300 MB and seconds to load), which the worker that posts the digest never loads
otherwise. The support lead (or a cron job before the digest) runs
``python -m bot review-misses``; the digest shows the newest review's biggest groups and its
date, so a stale review is visible as such.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bot.review.review_file import ReviewFileError, latest_review, load_review

logger = logging.getLogger(__name__)

TOP = 3


def reviews_folder(data_directory: Path) -> Path:
    """Where ``review-misses`` writes by default (``.data/reviews``)."""
    return data_directory / "reviews"


def top_clusters(folder: Path, top: int = TOP) -> dict[str, Any]:
    """``{"generated_at": str | None, "clusters": [{"size", "example", "suggestion"}]}`` for the digest.

    No review yet (or an unreadable one): no clusters and no date, and the digest says how to
    make one. The examples are already anonymised; the digest escapes them for Slack.
    """
    path = latest_review(folder)
    if path is None:
        return {"generated_at": None, "clusters": []}
    try:
        document = load_review(path)
    except ReviewFileError as exc:
        logger.warning("digest: the newest review is not usable: %s", exc)
        return {"generated_at": None, "clusters": []}
    found = []
    for cluster in document["clusters"][:top]:
        examples = cluster.get("examples") or [""]
        suggestion = cluster.get("suggestion") or {}
        verb = "extend" if suggestion.get("action") == "extend_intent" else "new intent"
        found.append({
            "size": cluster["size"],
            "example": str(examples[0]),
            "suggestion": f"{verb} {suggestion.get('intent', '?')}",
        })  # fmt: skip
    return {"generated_at": str(document.get("generated_at") or "")[:10], "clusters": found}
