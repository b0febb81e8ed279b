"""Fit SecondRequestDetector's threshold: no offer for single requests, offers for real pairs.

Every NLU training example asks one thing, and so do the multi-sentence messages in
``ONE_REQUEST`` below (training examples are short: few are split at all). One that the
splitter (bot/nlu/clauses.py) cuts into clauses would wrongly get an offer when a clause
scores at least the threshold for an offerable intent (config.yml ``offer``) other than
the example's own. This prints how often, per threshold, next to how many of the
hand-written two-request messages in ``PAIRS`` get their second request offered. A clause
is scored as the bot scores it: the same features and classifier as a message of its own.

    flock /tmp/team/heavy.lock .venv/bin/python bench/second_request.py [model.tar.gz]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.evaluation import load_examples, score  # noqa: E402
from bot.nlu.clauses import split_clauses  # noqa: E402
from bot.nlu.second_request import second_request  # noqa: E402
from bot.training import ensure_model  # noqa: E402

THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)
# Two requests in one message: (text, the message's intent, the second request to offer).
PAIRS = [
    ("my wifi keeps dropping and honestly should I just return the router for a refund?",
     "connectivity_issue", "start_return"),
    ("the internet is down again. also I want to return the camera", "connectivity_issue", "start_return"),
    ("where is my order HL-104233? also I forgot my password", "order_status", "reset_password"),
    ("I want to return my doorbell, plus where is my other order?", "start_return", "order_status"),
    ("I can't log in, I forgot my password. btw where is my package?", "reset_password", "order_status"),
    ("my hub keeps disconnecting from wifi. And can I send it back for a refund?", "connectivity_issue",
     "start_return"),
    ("has my order shipped yet? and also my router keeps dropping the connection", "order_status",
     "connectivity_issue"),
    ("please reset my password. Also I'd like to return the smart plug", "reset_password", "start_return"),
]  # fmt: skip
# One request told in several sentences (no offer wanted): (text, the message's intent).
ONE_REQUEST = [
    ("I want to return my order. It arrived broken.", "start_return"),
    ("my wifi keeps dropping. I already restarted the router twice.", "connectivity_issue"),
    ("where is my order? It was supposed to arrive on Monday.", "order_status"),
    ("I forgot my password. Also the reset email never arrived.", "reset_password"),
    ("the hub is offline again. Plus the app says the device is unreachable.", "connectivity_issue"),
    ("can I return the camera? I bought it last week and it doesn't suit me.", "start_return"),
    ("thanks for the help. btw you were really quick", "thank"),
    ("hi there. I have a question about my order", "order_status"),
    ("my package hasn't arrived and should I be worried about it?", "order_status"),
    ("the router keeps disconnecting, and what does the blinking red light mean?", "connectivity_issue"),
]  # fmt: skip


def offers() -> frozenset[str]:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    step = next(c for c in config["pipeline"] if c["name"].endswith("SecondRequestDetector"))
    return frozenset(step["offer"])


def main() -> None:
    model = Path(sys.argv[1]) if len(sys.argv) > 1 else ensure_model(quiet=True)  # or a trained model
    offerable = offers()
    singles = [(e.intent, split_clauses(e.plain_text)) for e in load_examples()]
    pairs = [(intent, second, split_clauses(text)) for text, intent, second in PAIRS]
    singles += [(intent, split_clauses(text)) for text, intent in ONE_REQUEST]
    split = [(intent, clauses) for intent, clauses in singles if clauses]
    texts = sorted({c for _, clauses in split for c in clauses} | {c for *_, cl in pairs for c in cl})
    scored = {s.text: (s.predicted, s.confidence) for s in score(model, [(t, None) for t in texts])}

    def found(intent: str, clauses: list[str], threshold: float) -> str | None:
        ranked = [(*scored[c], (0, 0)) for c in clauses]
        hit = second_request(intent, ranked, offerable, threshold)
        return hit[0] if hit else None

    results = []
    for threshold in THRESHOLDS:
        wrong = [(i, c) for i, c in split if found(i, c, threshold)]
        right = sum(found(i, c, threshold) == second for i, second, c in pairs)
        results.append({
            "threshold": threshold,
            "single_requests": len(singles),
            "split_into_clauses": len(split),
            "wrong_offers": len(wrong),
            "wrong_offer_rate": round(len(wrong) / len(singles), 4),
            "pairs_offered": f"{right}/{len(pairs)}",
            "wrong_examples": [" | ".join(c) for _, c in wrong[:5]],
        })  # fmt: skip
        print(f"threshold {threshold}: {len(wrong)}/{len(singles)} single requests would get an offer "
              f"({len(split)} split), {right}/{len(pairs)} two-request messages offered")  # fmt: skip
    for text, _intent, second in PAIRS:
        print(f"  {[(c, *scored[c]) for c in split_clauses(text)]}  want {second}")
    out = ROOT / "bench" / "results" / "second_request.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
