"""Which dialogue policy chose each action: the shipped bot (no TEDPolicy) next to the same bot with it.

Why: TEDPolicy was taken out of config.yml (issue 14) because it never chose an action, while it
costs CPU on every message, a TensorFlow model in memory and training time. This keeps the
evidence reproducible:

- model A is the shipped config.yml (bot.training.ensure_model());
- model B is the same config with TEDPolicy appended as it was (trained once, cached by content).

Both are served in turn by the real servers (Rasa + action server, SQLite, demo customers,
``bot.processes.start_bot``). The same conversations are replayed over the REST webhook against
each: the user turns of every story in tests/e2e_stories.yml, the benchmark's load questions
(bench/load_generator.py) in 10-turn conversations, and the flows of nlu_data/ stories and rules
with example wording from the NLU data. Then every conversation's tracker is read from Rasa's
HTTP API and each ``ActionExecuted`` event's ``policy`` is counted. The report: predictions per
policy for A and B, how often B chose TEDPolicy's prediction, whether the replies and action
sequences are identical in A and B (and every difference), training time, mean time per message
and peak RSS (VmHWM) of the Rasa process.

    flock /tmp/team/heavy.lock .venv/bin/python bench/policy_usage.py [--load-conversations 80]

Prints a table and writes bench/results/policy_usage.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load_generator import QUESTIONS, TURNS, peak_rss_mb  # noqa: E402
from bot.customers import CustomerStore  # noqa: E402
from bot.customers.demo import load_demo_data  # noqa: E402
from bot.migrations import upgrade  # noqa: E402
from bot.processes import BotProcesses, free_port, start_bot  # noqa: E402
from bot.settings import cache_dir, child_environment  # noqa: E402
from bot.training import ensure_model, training_data_files  # noqa: E402
from tests.support.bot import NO_SLACK, write_business_file  # noqa: E402

TED_POLICY = "  - name: TEDPolicy\n    max_history: 5\n    epochs: 40\n    constrain_similarities: true\n"
MARKUP = re.compile(r"\[([^\]]+)\]\((?:[^)]+)\)")  # "[HL-104233](order_number)" -> "HL-104233"
CLOCK = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}( UTC)?")  # a time in a reply differs between runs

# Rasa records no policy for the session start (action_session_start, action_listen); a custom
# action's FollowupAction is recorded as policy "followup_action": neither is a policy's choice.
NO_POLICY = "(no policy)"
Conversation = tuple[str, list[str]]  # (name, user turns)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def trained(name: str, config_text: str) -> tuple[Path, float]:
    """A model of this config on our domain + data, and its training time (cached by content).

    Trained from scratch (an empty Rasa cache), so A's and B's times compare."""
    import rasa

    digest = hashlib.sha256(f"rasa={rasa.__version__}".encode() + config_text.encode())
    for path in [ROOT / "domain.yml", *training_data_files(), *sorted((ROOT / "bot" / "nlu").glob("*.py"))]:
        digest.update(path.read_bytes())
    target = cache_dir() / "models" / f"policy-usage-{name}-{digest.hexdigest()[:20]}.tar.gz"
    timing = target.with_name(target.name.removesuffix(".tar.gz") + ".json")
    if target.exists() and timing.exists():
        return target, float(json.loads(timing.read_text())["training_seconds"])
    staging = Path(tempfile.mkdtemp(prefix=f"policy-usage-{name}-"))
    data = staging / "data"
    data.mkdir()
    for index, path in enumerate(training_data_files()):
        shutil.copyfile(path, data / f"{index:03d}-{path.name}")
    (config := staging / "config.yml").write_text(config_text, encoding="utf-8")
    log(f"training model {name} (about 1-3 minutes)")
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "rasa", "train", "--config", str(config), "--domain", str(ROOT / "domain.yml"),
         "--data", str(data), "--out", str(staging), "--fixed-model-name", "model"],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=child_environment({"RASA_CACHE_DIRECTORY": str(staging / "cache"), "HF_HUB_OFFLINE": "1"}),
    )  # fmt: skip
    seconds = time.monotonic() - started
    target.parent.mkdir(parents=True, exist_ok=True)
    (staging / "model.tar.gz").replace(target)
    timing.write_text(json.dumps({"training_seconds": seconds}))
    shutil.rmtree(staging, ignore_errors=True)
    log(f"model {name} trained in {seconds:.0f} s")
    return target, seconds


def e2e_conversations() -> list[Conversation]:
    """The user turns of every story in tests/e2e_stories.yml, entity markup removed."""
    stories = yaml.safe_load((ROOT / "tests" / "e2e_stories.yml").read_text(encoding="utf-8"))["stories"]
    turns = [
        [MARKUP.sub(r"\1", s["user"]).strip() for s in story["steps"] if "user" in s] for story in stories
    ]
    return [(f"e2e: {story['story']}", texts) for story, texts in zip(stories, turns, strict=True)]


def load_conversations(count: int) -> list[Conversation]:
    """The load questions as the load generator sends them (rotations), then in shuffled orders."""
    rng = random.Random(14)
    turns = [[QUESTIONS[(n + t) % len(QUESTIONS)] for t in range(TURNS)] for n in range(len(QUESTIONS))]
    turns += [[rng.choice(QUESTIONS) for _ in range(TURNS)] for _ in range(max(0, count - len(turns)))]
    return [(f"load {n}", questions) for n, questions in enumerate(turns[:count])]


def nlu_examples() -> dict[str, list[str]]:
    """Example messages per intent (entity markup kept) from nlu_data/nlu/."""
    examples: dict[str, list[str]] = {}
    for path in sorted((ROOT / "nlu_data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            if "intent" in item:
                lines = [line.strip()[2:] for line in str(item["examples"]).splitlines() if line.strip()]
                examples.setdefault(item["intent"], []).extend(lines)
    return examples


def entity_names(step: dict[str, Any]) -> list[str]:
    """The entity types a story step's message carries (``- order_number: HL-1`` or ``- order_number``)."""
    return sorted(next(iter(e)) if isinstance(e, dict) else str(e) for e in step.get("entities") or [])


def flow_conversations(variants: int) -> list[Conversation]:
    """Stories and unconditioned rules of nlu_data/ as conversations, in ``variants`` wordings each.

    A step's wording is an NLU example of its intent carrying the step's entities (none if the
    step has none); flows with intents that have no examples (fallback, external events) are left out."""
    examples = nlu_examples()
    flows = []
    for kind in ("stories", "rules"):
        document = yaml.safe_load((ROOT / "nlu_data" / f"{kind}.yml").read_text(encoding="utf-8"))
        for flow in document.get(kind) or []:
            if "condition" in flow or flow.get("conversation_start") is False:
                continue
            steps = [step["or"][0] if "or" in step else step for step in flow["steps"]]
            wanted = [(step["intent"], entity_names(step)) for step in steps if "intent" in step]
            if wanted and all(intent in examples for intent, _ in wanted):
                flows.append((flow.get("story") or flow.get("rule"), wanted))
    conversations = []
    for variant in range(variants):
        for name, wanted in flows:
            turns = []
            for position, (intent, entities) in enumerate(wanted):
                fitting = [t for t in examples[intent] if sorted(re.findall(r"\]\(([^)]+)\)", t)) == entities]
                if not fitting:
                    break
                turns.append(MARKUP.sub(r"\1", fitting[(variant * 7 + position) % len(fitting)]))
            else:
                conversations.append((f"flow {variant}: {name}", turns))
    return conversations


def replay(bot: BotProcesses, conversations: list[Conversation]) -> tuple[list[dict[str, Any]], float]:
    """Send every conversation's turns in order; replies per turn and (action, policy) per event."""
    session = requests.Session()
    session.headers.update(bot.rest_headers)
    results, seconds, messages = [], 0.0, 0
    for number, (name, turns) in enumerate(conversations):
        sender = f"policy-usage-{number:04d}"
        replies = []
        for text in turns:
            started = time.perf_counter()
            answer = session.post(bot.webhook_url, json={"sender": sender, "message": text}, timeout=120)
            seconds, messages = seconds + time.perf_counter() - started, messages + 1
            answer.raise_for_status()
            replies.append(
                [CLOCK.sub("<time>", str(r.get("text", r.get("custom", "")))) for r in answer.json()]
            )
        tracker = session.get(
            f"{bot.api_url}/conversations/{sender}/tracker",
            params={**bot.api_params, "include_events": "ALL"}, timeout=60,
        )  # fmt: skip
        tracker.raise_for_status()
        actions = [(e["name"], e.get("policy")) for e in tracker.json()["events"] if e["event"] == "action"]
        results.append({"name": name, "turns": turns, "replies": replies, "actions": actions})
    return results, 1000 * seconds / max(1, messages)


def business(data: Path) -> Path:
    """business.yml as the tests use it (always open), with every survey of the configured kind.

    Why: whether a survey is NPS instead is a hash of the sender and the session's start time
    (bot/surveys/choice.py), so two runs of the same conversation would ask different surveys."""
    path = write_business_file(data / "business.yml")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document.setdefault("surveys", {}).setdefault("nps", {})["share"] = 0
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def serve(name: str, model: Path, conversations: list[Conversation]) -> dict[str, Any]:
    """Start the servers on ``model``, replay the conversations, measure the Rasa process's peak RSS."""
    data = Path(tempfile.mkdtemp(prefix=f"policy-usage-{name}-"))
    database = f"sqlite:///{data / 'customers.db'}"
    upgrade(database)
    load_demo_data(CustomerStore(database))
    env = {**NO_SLACK, "SUPPORTBOT_DATABASE_URL": database, "SUPPORTBOT_BUSINESS_FILE": str(business(data))}
    log(f"model {name}: starting the servers on {model.name}")
    bot = start_bot(
        model, endpoints=ROOT / "endpoints.yml", rasa_port=free_port(), actions_port=free_port(),
        data_directory=data, log_dir=data / "logs", env=env,
    )  # fmt: skip
    try:
        log(f"model {name}: replaying {len(conversations)} conversations")
        results, mean_ms = replay(bot, conversations)
        rss = {n: round(peak_rss_mb(c.process.pid)) for n, c in bot.started.items() if c.process}
    except BaseException:
        log(f"model {name} failed; the servers' logs are kept in {data / 'logs'}")
        raise
    finally:
        bot.stop()
    shutil.rmtree(data, ignore_errors=True)
    events = [(policy or NO_POLICY, n) for r in results for n, policy in r["actions"]]
    policies, total = Counter(p for p, _ in events), len(events)
    top = {p: Counter(n for q, n in events if q == p).most_common(6) for p in policies}
    return {
        "model": model.name, "mean_ms_per_message": round(mean_ms, 1), "peak_rss_mb": rss,
        "predictions": total, "policy_predictions": total - policies[NO_POLICY] - policies["followup_action"],
        "by_policy": {p: {"count": c, "share": round(c / total, 4), "top_actions": dict(top[p])}
                      for p, c in policies.most_common()},
        "conversations": results,
    }  # fmt: skip


def differences(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every conversation whose replies or action sequence differ between A and B."""
    found = []
    for left, right in zip(a, b, strict=True):
        for turn, (text_a, text_b) in enumerate(zip(left["replies"], right["replies"], strict=True)):
            if text_a != text_b:
                found.append({"conversation": left["name"], "turn": turn, "user": left["turns"][turn],
                              "replies_a": text_a, "replies_b": text_b})  # fmt: skip
        names_a, names_b = [n for n, _ in left["actions"]], [n for n, _ in right["actions"]]
        if names_a != names_b:
            found.append({"conversation": left["name"], "actions_a": names_a, "actions_b": names_b})
    return found


def print_table(runs: dict[str, dict[str, Any]], diffs: list[dict[str, Any]], ted_chosen: int) -> None:
    policies = list(dict.fromkeys(p for run in runs.values() for p in run["by_policy"]))
    print(f"\n{'policy':<36}" + "".join(f"{name:>22}" for name in runs))
    for policy in policies:
        cells = [run["by_policy"].get(policy, {"count": 0, "share": 0.0}) for run in runs.values()]
        print(f"{policy:<36}" + "".join(f"{c['count']:>12,} {100 * c['share']:>7.1f} %" for c in cells))
    for label, key, unit in (("ActionExecuted events", "predictions", ""),
                             ("of which chosen by a policy", "policy_predictions", ""),
                             ("training time", "training_seconds", " s"),
                             ("mean time per message", "mean_ms_per_message", " ms")):  # fmt: skip
        print(f"{label:<36}" + "".join(f"{run[key]:>20,.0f}{unit:<2}" for run in runs.values()))
    rss = "".join(f"{run['peak_rss_mb'].get('rasa', 0):>19,} MB" for run in runs.values())
    print(f"{'Rasa peak RSS (VmHWM)':<36}{rss}")
    print(f"\nTEDPolicy's prediction chosen in B: {ted_chosen} time(s)")
    print("replies and action sequences identical in A and B for every conversation: "
          + ("yes" if not diffs else f"NO, {len(diffs)} difference(s):"))  # fmt: skip
    for diff in diffs:
        print(f"  {json.dumps(diff, ensure_ascii=False)[:400]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load-conversations", type=int, default=80, help="10-turn ones of QUESTIONS")
    parser.add_argument("--flow-variants", type=int, default=4, help="wordings per nlu_data story/rule")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "policy_usage.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    shipped = (ROOT / "config.yml").read_text(encoding="utf-8")
    if "name: TEDPolicy" in shipped:
        sys.exit("config.yml already has TEDPolicy: model A is meant to be the shipped config without it")
    models = {  # name: (model, training seconds); A is served as ensure_model() trains it, timed apart
        "A (shipped, no TED)": (ensure_model(), trained("a", shipped)[1]),
        "B (+ TEDPolicy)": trained("b", shipped.rstrip("\n") + "\n" + TED_POLICY),
    }
    conversations = e2e_conversations() + load_conversations(args.load_conversations)
    conversations += flow_conversations(args.flow_variants)
    log(f"{len(conversations)} conversations, {sum(len(t) for _, t in conversations)} user turns")
    runs = {name: {**serve(name[0], model, conversations), "training_seconds": round(seconds, 1)}
            for name, (model, seconds) in models.items()}  # fmt: skip
    (a, b) = (run["conversations"] for run in runs.values())
    diffs = differences(a, b)
    chosen = [
        {"conversation": r["name"], "action": n} for r in b for n, p in r["actions"] if p == "TEDPolicy"
    ]
    print_table(runs, diffs, len(chosen))
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "conversations": len(conversations), "user_turns": sum(len(t) for _, t in conversations),
        "ted_prediction_chosen_in_b": len(chosen), "ted_chosen_actions": chosen,
        "identical_replies_and_actions": not diffs, "differences": diffs,
        "models": {name: {k: v for k, v in run.items() if k != "conversations"}
                   for name, run in runs.items()},
    }  # fmt: skip
    out = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
