"""Response time and throughput of the running bot over REST, next to a bare Rasa bot.

Why: a support bot is judged by how fast it answers when many customers write at once.
This starts the real servers (action server + Rasa, exactly as ``supportbot run`` does),
sends realistic questions from 1, 10 and 100 concurrent conversations, and reports
p50/p95/p99 latency per message, messages per second and peak memory per process — for
the shipped bot and, in the same run on the same machine, for a bare Rasa bot trained
with Rasa's default ``config.yml`` (bench/default_rasa_config.yml) on the same domain and
data, so the ratio shows what our pipeline costs or saves. It also measures the handoff
relay: how long a customer's message takes to reach the agent's thread (local inbox).

    .venv/bin/python bench/latency.py [--levels 1 10 100] [--messages 200] [--skip-bare]

Prints a table and writes bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.customers import CustomerStore  # noqa: E402
from bot.customers.demo import load_demo_data  # noqa: E402
from bot.processes import BotProcesses, free_port, start_bot  # noqa: E402
from bot.settings import cache_dir  # noqa: E402
from bot.training import ensure_model, training_data_files  # noqa: E402

QUESTIONS = [
    "hi",
    "how long does delivery take?",
    "do you ship to canada?",
    "what payment methods do you accept?",
    "what is your return policy?",
    "is the hub compatible with alexa?",
    "what plans do you have?",
    "when are you open?",
    "thanks!",
]
NO_SLACK = {"SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": "", "SLACK_HANDOFF_CHANNEL": ""}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def bare_model() -> Path:
    """Rasa's default pipeline on our domain + data, trained once and cached by content."""
    config = ROOT / "bench" / "default_rasa_config.yml"
    digest = hashlib.sha256(config.read_bytes() + (ROOT / "domain.yml").read_bytes())
    for path in training_data_files():
        digest.update(path.read_bytes())
    target = cache_dir() / "models" / f"bare-default-{digest.hexdigest()[:20]}.tar.gz"
    if target.exists():
        log(f"bare Rasa model cached: {target.name}")
        return target
    staging = Path(tempfile.mkdtemp(prefix="bare-rasa-"))
    data = staging / "data"
    data.mkdir()
    for index, path in enumerate(training_data_files()):
        shutil.copyfile(path, data / f"{index:03d}-{path.name}")
    log("training the bare Rasa model (default config: DIET, TED, 100 epochs each; several minutes)")
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "rasa", "train", "--config", str(config), "--domain", str(ROOT / "domain.yml"),
         "--data", str(data), "--out", str(staging), "--fixed-model-name", "model"],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    target.parent.mkdir(parents=True, exist_ok=True)
    (staging / "model.tar.gz").replace(target)
    shutil.rmtree(staging, ignore_errors=True)
    log(f"bare Rasa model trained in {time.monotonic() - started:.0f} s")
    return target


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a process (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def load(webhook: str, concurrency: int, messages: int, tag: str) -> dict[str, Any]:
    """``messages`` messages from ``concurrency`` conversations at once; latency per message."""
    latencies: list[float] = []
    errors = 0
    per_conversation = max(1, messages // concurrency)

    async def conversation(session: aiohttp.ClientSession, number: int) -> None:
        nonlocal errors
        sender = f"bench-{tag}-{concurrency}-{number}"
        for turn in range(per_conversation):
            body = {"sender": sender, "message": QUESTIONS[(number + turn) % len(QUESTIONS)]}
            started = time.perf_counter()
            try:
                async with session.post(webhook, json=body) as reply:
                    answer = await reply.json()
                    if reply.status != 200 or not answer:
                        errors += 1
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
            latencies.append(time.perf_counter() - started)

    timeout = aiohttp.ClientTimeout(total=300)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(conversation(session, n) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

    return {
        "concurrency": concurrency, "messages": len(latencies), "errors": errors,
        "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
        "mean_ms": statistics.fmean(latencies) * 1000, "msgs_per_s": len(latencies) / elapsed,
    }  # fmt: skip


def handoff_latency(bot: BotProcesses, samples: int) -> dict[str, Any]:
    """Customer message (REST) → visible in the agent's thread (local inbox), in ms."""
    sender = f"bench-handoff-{int(time.time())}"
    requests.post(
        bot.webhook_url, json={"sender": sender, "message": "I want to talk to a human"}, timeout=60
    )
    inbox = f"{bot.relay_url}/inbox/api/handoffs"

    def thread() -> list[str]:
        handoffs = requests.get(inbox, timeout=10).json()["handoffs"]
        return [m["text"] for h in handoffs if h["conversation_id"] == sender for m in h["thread"]]

    delays = []
    for number in range(samples):
        marker = f"bench message {number}"
        started = time.perf_counter()
        requests.post(bot.webhook_url, json={"sender": sender, "message": marker}, timeout=60)
        while not any(marker in text for text in thread()):
            if time.perf_counter() - started > 30:
                break
            time.sleep(0.02)
        delays.append((time.perf_counter() - started) * 1000)
    delays.sort()
    return {
        "samples": samples,
        "p50_ms": delays[len(delays) // 2],
        "p95_ms": delays[int(0.95 * (len(delays) - 1))],
        "max_ms": delays[-1],
    }


def measure(name: str, model: Path, levels: list[int], messages: int, relay: bool) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    load_demo_data(CustomerStore(f"sqlite:///{data / 'customers.db'}"))
    log(f"{name}: starting the servers")
    bot = start_bot(
        model, endpoints=ROOT / "endpoints.yml", rasa_port=free_port(), actions_port=free_port(),
        relay_port=free_port() if relay else None, data_directory=data, log_dir=data / "logs",
        env={**NO_SLACK, "SUPPORTBOT_DATABASE_URL": f"sqlite:///{data / 'customers.db'}"},
    )  # fmt: skip
    try:
        asyncio.run(load(bot.webhook_url, 1, 10, f"{name}-warmup"))
        results = []
        for level in levels:
            log(f"{name}: {messages} messages from {level} concurrent conversation(s)")
            results.append(asyncio.run(load(bot.webhook_url, level, messages, name)))
        memory = {child: peak_rss_mb(proc.process.pid) for child, proc in bot.started.items() if proc.process}
        handoff = handoff_latency(bot, 20) if relay else None
    finally:
        bot.stop()
        shutil.rmtree(data, ignore_errors=True)
    return {"setup": name, "model": model.name, "levels": results, "peak_rss_mb": memory, "handoff": handoff}


def print_table(runs: list[dict[str, Any]]) -> None:
    print()
    print("| setup | concurrency | messages | errors | p50 ms | p95 ms | p99 ms | msgs/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        for row in run["levels"]:
            print(
                f"| {run['setup']} | {row['concurrency']} | {row['messages']} | {row['errors']} | "
                f"{row['p50_ms']:.0f} | {row['p95_ms']:.0f} | {row['p99_ms']:.0f} | {row['msgs_per_s']:.1f} |"
            )
    print()
    for run in runs:
        memory = ", ".join(f"{name} {mb:.0f} MB" for name, mb in run["peak_rss_mb"].items())
        print(f"peak memory, {run['setup']}: {memory}")
        if run["handoff"]:
            h = run["handoff"]
            print(
                f"handoff relay, {run['setup']}: customer message → agent thread p50 {h['p50_ms']:.0f} ms, "
                f"p95 {h['p95_ms']:.0f} ms, max {h['max_ms']:.0f} ms ({h['samples']} samples)"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--messages", type=int, default=200, help="messages per concurrency level")
    parser.add_argument("--skip-bare", action="store_true", help="only the shipped bot")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    runs = [measure("supportbot", ensure_model(), args.levels, args.messages, relay=True)]
    if not args.skip_bare:
        runs.append(
            measure("bare Rasa (default config)", bare_model(), args.levels, args.messages, relay=False)
        )
    print_table(runs)
    out = ROOT / "bench" / "results" / "latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "runs": runs,
    }
    out.write_text(json.dumps(report, indent=2))
    log(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
