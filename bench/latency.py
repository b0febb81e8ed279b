"""Response time and throughput of the running bot over REST, next to a bare Rasa bot.

Why: a support bot is judged by how fast it answers when many customers write at once.
This starts the real servers (exactly as ``supportbot run`` does), sends realistic
questions from 1, 10 and 100 concurrent conversations, and reports p50/p95/p99 latency
per message, messages per second, errors and peak memory per process, in two topologies:

- **one process**: the embedded default (one Rasa server, SQLite, in-memory lock store);
- **two replicas**: the production topology (``run --production``): two Rasa replicas
  behind HAProxy (deploy/haproxy.cfg, as in docker-compose.yml), PostgreSQL tracker store,
  Redis lock store, RabbitMQ event broker (a fresh database and queues of its own, dropped
  afterwards).

Each for the shipped bot and, in the same run on the same machine, a bare Rasa bot
trained with Rasa's default ``config.yml`` (bench/default_rasa_config.yml) on the same
domain and data, so the ratio shows what our pipeline costs or saves.

It also measures the handoff through the real relay with the fake Slack server
(tests/fakes/slack.py, real signed requests): a web-chat customer's message → posted in
the agent's Slack thread, and an agent's thread reply → pushed to the customer's browser
session.

    .venv/bin/python bench/latency.py [--levels 1 10 100] [--messages 200] [--skip-bare]
                                      [--topologies single replicas] [--out FILE]

Prints a table and writes bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.customers import CustomerStore  # noqa: E402
from bot.customers.demo import load_demo_data  # noqa: E402
from bot.migrations import upgrade  # noqa: E402
from bot.processes import BotProcesses, free_port, start_bot  # noqa: E402
from bot.production_stores import ensure_database, production_env  # noqa: E402
from bot.settings import cache_dir  # noqa: E402
from bot.training import ensure_model, training_data_files  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402
from tests.support.bot import write_business_file  # noqa: E402
from tests.support.services import delete_rabbitmq_queues  # noqa: E402
from tests.support.webchat import WebChatCustomer  # noqa: E402

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
TURNS = 10  # messages per conversation in the load test (a support chat is rarely longer)
NO_SLACK = {"SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": "", "SLACK_HANDOFF_CHANNEL": ""}
CHANNEL = "CHANDOFF"


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


async def load(
    webhook: str, concurrency: int, messages: int, tag: str, headers: dict[str, str]
) -> dict[str, Any]:
    """``messages`` messages from ``concurrency`` conversations at once; latency per message."""
    latencies: list[float] = []
    errors: dict[str, int] = {}  # kind of failure -> count ("HTTP 502", "empty reply", ...)
    per_worker = max(1, messages // concurrency)

    def failed(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    async def conversation(session: aiohttp.ClientSession, number: int) -> None:
        for turn in range(per_worker):
            # A new customer every TURNS turns: Rasa reloads a conversation's whole history on
            # every message, so one endless conversation would measure history length, not load.
            sender = f"bench-{tag}-{concurrency}-{number}-{turn // TURNS}"
            body = {"sender": sender, "message": QUESTIONS[(number + turn) % len(QUESTIONS)]}
            started = time.perf_counter()
            try:
                async with session.post(webhook, json=body) as reply:
                    answer = await reply.json(content_type=None)
                    if reply.status != 200:
                        failed(f"HTTP {reply.status}")
                    elif not answer:
                        failed("empty reply")
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                failed(type(exc).__name__)
            latencies.append(time.perf_counter() - started)

    timeout = aiohttp.ClientTimeout(total=300)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector, headers=headers) as session:
        started = time.perf_counter()
        await asyncio.gather(*(conversation(session, n) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

    return {
        "concurrency": concurrency, "messages": len(latencies), "errors": sum(errors.values()),
        "error_kinds": errors,
        "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
        "mean_ms": statistics.fmean(latencies) * 1000, "msgs_per_s": len(latencies) / elapsed,
    }  # fmt: skip


def handoff_latency(bot: BotProcesses, slack: FakeSlack, samples: int) -> dict[str, Any]:
    """Through the relay and the fake Slack server, in ms: a web-chat customer's message →
    in the agent's thread, and the agent's thread reply → pushed to the customer's browser."""
    customer = WebChatCustomer(bot.rasa_url)
    session = customer.session_id  # issued by the server
    try:
        customer.ask("I want to talk to a human", "person from our support team", timeout=120)
        card = slack.wait_for(
            lambda: next(
                (m for m in slack.messages(CHANNEL) if session in json.dumps(m.get("blocks"))), None
            ),
            timeout=60,
        )
        events = f"{bot.relay_url}/slack/events"
        to_agent: list[float] = []
        to_customer: list[float] = []
        missing: list[str] = []  # messages that did not arrive within a minute: reported, never hidden
        for number in range(samples):
            marker = f"bench message {number}"
            started = time.perf_counter()
            customer.say(marker)
            try:
                slack.wait_for(
                    lambda m=marker: any(m in r["text"] for r in slack.replies(card["ts"])), timeout=60
                )
                to_agent.append((time.perf_counter() - started) * 1000)
            except AssertionError:
                missing.append(f"customer → agent: {marker!r} (sent {datetime.now(timezone.utc):%H:%M:%S})")
            reply = f"agent reply {number}"
            started = time.perf_counter()
            slack.post_thread_reply(events, CHANNEL, card["ts"], "UALEX", reply)
            try:
                customer.wait_for(reply, timeout=60)
                to_customer.append((time.perf_counter() - started) * 1000)
            except AssertionError:
                missing.append(f"agent → customer: {reply!r} (sent {datetime.now(timezone.utc):%H:%M:%S})")
    finally:
        customer.close()
    return {
        "samples": samples,
        "customer_to_agent": percentiles(to_agent),
        "agent_to_customer": percentiles(to_customer),
        "not_arrived_within_60_s": missing,
    }


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "max_ms": float("nan")}
    ordered = sorted(values)
    return {
        "p50_ms": ordered[len(ordered) // 2],
        "p95_ms": ordered[int(0.95 * (len(ordered) - 1))],
        "max_ms": ordered[-1],
    }


@contextlib.contextmanager
def stores(topology: str, data: Path) -> Iterator[tuple[dict[str, str], Path, list[int] | None]]:
    """Environment, endpoints file and replica ports of a topology; cleans up afterwards."""
    if topology == "single":
        url = f"sqlite:///{data / 'customers.db'}"
        yield {"SUPPORTBOT_DATABASE_URL": url}, ROOT / "endpoints.yml", None
        return
    suffix = uuid.uuid4().hex[:8]
    env = production_env(
        {
            "DB_NAME": f"supportbot_bench_{suffix}",
            "RABBITMQ_QUEUE": f"handoff_relay_bench_{suffix}",
            "RABBITMQ_METRICS_QUEUE": f"metrics_bench_{suffix}",
            "WEBCHAT_REDIS_URL": "redis://127.0.0.1:6379/4",
            **{k: v for k, v in os.environ.items() if k.startswith(("DB_", "REDIS_", "RABBITMQ_HOST"))},
        }
    )
    ensure_database(env)
    try:
        yield env, ROOT / "endpoints.production.yml", [free_port(), free_port()]
    finally:
        import psycopg2

        admin = psycopg2.connect(
            host=env["DB_HOST"], port=env["DB_PORT"], user=env["DB_USER"], dbname="postgres"
        )
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{env["DB_NAME"]}" WITH (FORCE)')
        admin.close()
        delete_rabbitmq_queues(env["RABBITMQ_QUEUE"], env["RABBITMQ_METRICS_QUEUE"])


def measure(
    name: str, model: Path, levels: list[int], messages: int, relay: bool, topology: str
) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    slack = FakeSlack().start() if relay else None
    try:
        with stores(topology, data) as (store_env, endpoints, replica_ports):
            upgrade(store_env["SUPPORTBOT_DATABASE_URL"])
            load_demo_data(CustomerStore(store_env["SUPPORTBOT_DATABASE_URL"]))
            env = {
                **NO_SLACK,
                **store_env,
                "SUPPORTBOT_BUSINESS_FILE": str(write_business_file(data / "business.yml")),
            }
            if slack is not None:
                slack.add_channel(CHANNEL, "support-handoffs")
                slack.add_user("UALEX", "Alex Morgan", "Alex")
                env |= {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_SIGNING_SECRET": slack.signing_secret,
                        "SLACK_HANDOFF_CHANNEL": CHANNEL, "SLACK_API_URL": slack.api_url}  # fmt: skip
            log(f"{name} [{topology}]: starting the servers")
            bot = start_bot(
                model, endpoints=endpoints, rasa_port=free_port(), actions_port=free_port(),
                worker_port=free_port() if relay else None, replica_ports=replica_ports,
                data_directory=data, log_dir=data / "logs", env=env,
            )  # fmt: skip
            try:
                auth = bot.rest_headers  # the REST channel is for trusted integrations
                asyncio.run(load(bot.webhook_url, 1, 10, f"{name}-warmup", auth))
                results = []
                for level in levels:
                    log(f"{name} [{topology}]: {messages} messages from {level} concurrent conversation(s)")
                    results.append(
                        asyncio.run(load(bot.webhook_url, level, messages, f"{name}-{topology}", auth))
                    )
                    log(f"  p50 {results[-1]['p50_ms']:.0f} ms, {results[-1]['msgs_per_s']:.1f} msgs/s, "
                        f"errors {results[-1]['error_kinds'] or 0}")  # fmt: skip
                memory = {n: peak_rss_mb(c.process.pid) for n, c in bot.started.items() if c.process}
                server_errors = error_lines(data / "logs")
                handoff = handoff_latency(bot, slack, 20) if slack is not None else None
            finally:
                bot.stop()
    except BaseException:
        log(f"{name} [{topology}] failed; the servers' logs are kept in {data / 'logs'}")
        raise
    else:
        if handoff and handoff["not_arrived_within_60_s"]:
            log(f"{name} [{topology}]: handoff messages missing; servers' logs kept in {data / 'logs'}")
        else:
            shutil.rmtree(data, ignore_errors=True)
    finally:
        if slack is not None:
            slack.stop()
    return {"setup": name, "topology": topology, "model": model.name, "levels": results,
            "peak_rss_mb": memory, "handoff": handoff, "server_errors": server_errors}  # fmt: skip


def error_lines(log_dir: Path, limit: int = 20) -> dict[str, list[str]]:
    """The distinct error lines each server logged (the reason behind failed requests)."""
    found: dict[str, list[str]] = {}
    for log_file in sorted(log_dir.glob("*.log")):
        lines: list[str] = []
        for line in log_file.read_text(encoding="utf-8", errors="replace").splitlines():
            if any(mark in line for mark in ("ERROR", "[error", "Error:", "Exception")):
                text = line.strip()[-300:]
                if text not in lines:
                    lines.append(text)
        if lines:
            found[log_file.stem] = lines[:limit]
    return found


def print_table(runs: list[dict[str, Any]]) -> None:
    print()
    print("| setup | topology | concurrency | messages | errors | p50 ms | p95 ms | p99 ms | msgs/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        for row in run["levels"]:
            print(
                f"| {run['setup']} | {run['topology']} | {row['concurrency']} | {row['messages']} "
                f"| {row['errors']} | {row['p50_ms']:.0f} | {row['p95_ms']:.0f} | {row['p99_ms']:.0f} "
                f"| {row['msgs_per_s']:.1f} |"
            )
    ratios = ratio_rows(runs)
    if ratios:
        print()
        print("| topology | concurrency | p50 ours / bare | msgs/s ours / bare |")
        print("|---|---:|---:|---:|")
        for topology, level, p50, throughput in ratios:
            print(f"| {topology} | {level} | {p50:.2f} | {throughput:.2f} |")
    print()
    for run in runs:
        memory = ", ".join(f"{name} {mb:.0f} MB" for name, mb in run["peak_rss_mb"].items())
        print(f"peak memory, {run['setup']} [{run['topology']}]: {memory}")
        for server, lines in run["server_errors"].items():
            where = f"{server} [{run['setup']}, {run['topology']}]"
            print(f"errors logged by {where}: {len(lines)} distinct, first: {lines[0]}")
        if run["handoff"]:
            h = run["handoff"]
            for key, label in (("customer_to_agent", "customer → agent thread"),
                               ("agent_to_customer", "agent reply → customer")):  # fmt: skip
                print(
                    f"handoff, {run['topology']}: {label} p50 {h[key]['p50_ms']:.0f} ms, "
                    f"p95 {h[key]['p95_ms']:.0f} ms, max {h[key]['max_ms']:.0f} ms ({h['samples']} samples)"
                )
            for line in h["not_arrived_within_60_s"]:
                print(f"handoff, {run['topology']}: NOT ARRIVED within 60 s: {line}")


def ratio_rows(runs: list[dict[str, Any]]) -> list[tuple[str, int, float, float]]:
    """(topology, concurrency, p50 ratio, throughput ratio) of ours against bare Rasa."""
    rows = []
    for ours in (r for r in runs if r["setup"] == "supportbot"):
        bare = next(
            (r for r in runs if r["setup"] != "supportbot" and r["topology"] == ours["topology"]), None
        )
        if bare is None:
            continue
        for mine, theirs in zip(ours["levels"], bare["levels"], strict=True):
            rows.append((ours["topology"], mine["concurrency"], mine["p50_ms"] / theirs["p50_ms"],
                         mine["msgs_per_s"] / theirs["msgs_per_s"]))  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--messages", type=int, default=200, help="messages per concurrency level")
    parser.add_argument("--skip-bare", action="store_true", help="only the shipped bot")
    parser.add_argument(
        "--topologies", nargs="+", choices=["single", "replicas"], default=["single", "replicas"]
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latency.json",
                        help="where the JSON report goes (default bench/results/latency.json)")  # fmt: skip
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ours, bare = ensure_model(), None if args.skip_bare else bare_model()
    runs = []
    for topology in args.topologies:
        runs.append(measure("supportbot", ours, args.levels, args.messages, relay=True, topology=topology))
        if bare is not None:
            runs.append(measure("bare Rasa (default config)", bare, args.levels, args.messages, relay=False,
                                topology=topology))  # fmt: skip
    print_table(runs)
    out = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "runs": runs,
        "ratios_ours_to_bare": [
            {"topology": t, "concurrency": c, "p50": p, "msgs_per_s": m} for t, c, p, m in ratio_rows(runs)
        ],
    }
    out.write_text(json.dumps(report, indent=2))
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
