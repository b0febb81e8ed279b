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

For every setup and topology, in the same run, it also measures:

- **CPU ms per message** of every server it started (rasa or rasa-1/rasa-2, actions, worker,
  front = HAProxy) and their total, per concurrency level: utime + stime from /proc before and
  after the level, with descendants (bench/process_cpu.py says exactly what is counted); the
  load client's own CPU apart, and each server's idle CPU per second as the baseline;
- **cost by conversation length**: ``--long-conversations`` conversations (default 5) one
  after another at concurrency 1, each ``--long-turns`` turns (default 60) of one customer
  cycling the load's questions; p50 at turns 2, 30 and 60 (turns 1–3, 29–31, 58–60 pooled
  across the conversations) and the ratio turn 60 / turn 2; failed replies counted as in the load;
- **peak RSS** (VmHWM) per server, read after the load and the long conversations;
- the **handoff** through the real relay with the fake Slack server (tests/fakes/slack.py, real
  signed requests): a web-chat customer's message → posted in the agent's Slack thread, and an
  agent's thread reply → pushed to the customer's browser session.

At the end it prints the **goals** of issue 14 for the shipped bot, each with the measured value
and met / not met (bench/latency_goals.py), and stores them in the JSON.

    .venv/bin/python bench/latency.py [--levels 1 10 100] [--messages 200] [--skip-bare]
                                      [--topologies single replicas] [--long-conversations 5]
                                      [--long-turns 60] [--out FILE]

Prints the tables and writes bench/results/latency.json. This module starts the servers and runs
the measurements; the load is bench/load_generator.py, the CPU accounting bench/process_cpu.py,
the handoff timing bench/handoff_timing.py, the tables bench/latency_report.py and the goals
bench/latency_goals.py.
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
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.handoff_timing import CHANNEL, handoff_latency  # noqa: E402
from bench.latency_goals import goals, print_goals  # noqa: E402
from bench.latency_report import error_lines, print_table, ratio_rows  # noqa: E402
from bench.load_generator import load, long_conversations, peak_rss_mb  # noqa: E402
from bench.process_cpu import client_cpu_ms  # noqa: E402
from bench.process_cpu import per_message as cpu_per_message  # noqa: E402
from bench.process_cpu import snapshot as cpu_snapshot  # noqa: E402
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

IDLE_SECONDS = 5.0  # how long the servers' idle CPU is measured, after the warm-up
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


def server_pids(bot: BotProcesses) -> dict[str, int]:
    return {name: child.process.pid for name, child in bot.started.items() if child.process}


def cpu_during(bot: BotProcesses, messages: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """Run one measurement (a coroutine does nothing until run) and add the servers' CPU time per
    message to its result (bench/process_cpu.py says what is counted), and the load client's apart."""
    before, client = cpu_snapshot(server_pids(bot)), client_cpu_ms()
    result = asyncio.run(messages)
    result["cpu"] = cpu_per_message(before, cpu_snapshot(server_pids(bot)), result["messages"])
    result["cpu"]["load_client_ms_per_message"] = (client_cpu_ms() - client) / max(1, result["messages"])
    return result


def idle_cpu(bot: BotProcesses, seconds: float) -> dict[str, Any]:
    """CPU ms per second each server spends with no messages (polling, timers): the baseline
    that the per-message figures include for as long as a level lasts."""
    before = cpu_snapshot(server_pids(bot))
    time.sleep(seconds)
    used = cpu_per_message(before, cpu_snapshot(server_pids(bot)), 1)["cpu_ms"]
    return {"seconds": seconds, "ms_per_s": {name: ms / seconds for name, ms in used.items()}}


def run_load(
    bot: BotProcesses, name: str, topology: str, levels: list[int], messages: int, long: tuple[int, int]
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
    """Idle CPU, the concurrency levels, then the long conversations (``long`` = (conversations, turns))."""
    auth, tag = bot.rest_headers, f"{name}-{topology}"  # the REST channel is for trusted integrations
    # Warm every Rasa process directly: through HAProxy one warm-up conversation reaches one
    # replica, and the other's first messages (slow, lazily built graphs) fell into level 1.
    for rasa in (child for child in bot.started.values() if child.name.startswith("rasa")):
        webhook = rasa.health_url.removesuffix("/status") + "/webhooks/rest/webhook"
        asyncio.run(load(webhook, 1, 10, f"{name}-warmup-{rasa.name}", auth))
    asyncio.run(load(bot.webhook_url, 1, 2, f"{name}-warmup", auth))  # and the way in
    idle = idle_cpu(bot, IDLE_SECONDS)
    results = []
    for level in levels:
        log(f"{name} [{topology}]: {messages} messages from {level} concurrent conversation(s)")
        results.append(row := cpu_during(bot, load(bot.webhook_url, level, messages, tag, auth)))
        cpu = row["cpu"]["total_ms_per_message"]
        log(f"  p50 {row['p50_ms']:.0f} ms, {row['msgs_per_s']:.1f} msgs/s, "
            f"errors {row['error_kinds'] or 0}, CPU {cpu:.0f} ms/msg")  # fmt: skip
    conversations, turns = long
    if conversations <= 0:
        return idle, results, None
    log(f"{name} [{topology}]: {conversations} conversation(s) of {turns} turns, one after another")
    long_run = cpu_during(bot, long_conversations(bot.webhook_url, conversations, turns, tag, auth))
    p50 = long_run["p50_ms_at_turn"]
    log(f"  p50 turn 2 {p50['2']:.0f} ms, turn {turns} {p50[str(turns)]:.0f} ms, "
        f"errors {long_run['error_kinds'] or 0}")  # fmt: skip
    return idle, results, long_run


def rasas_own_stores(endpoints: Path, target: Path) -> Path:
    """A copy of ``endpoints`` with Rasa's own ``type: SQL`` tracker store and broker.

    Why: the bare bot is Rasa as released; our faster tracker store and broker (same tables)
    are part of what is measured, so the baseline must not get them.
    """
    config = yaml.safe_load(endpoints.read_text(encoding="utf-8")) or {}
    for section in ("tracker_store", "event_broker"):
        store = config.get(section) or {}
        if str(store.get("type", "")).startswith("bot."):
            store["type"] = "SQL"
            for ours in ("cache_size", "cache_idle_seconds"):
                store.pop(ours, None)
    target.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return target


def measure(
    name: str,
    model: Path,
    levels: list[int],
    messages: int,
    relay: bool,
    topology: str,
    long: tuple[int, int] = (0, 60),
    as_released: bool = False,
) -> dict[str, Any]:
    """One setup in one topology; ``as_released``: Rasa's own stores and no bot/speedups."""
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
            if as_released:
                endpoints = rasas_own_stores(endpoints, data / "endpoints-as-released.yml")
                env["SUPPORTBOT_RASA_SPEEDUPS"] = "false"
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
                idle, results, long_run = run_load(bot, name, topology, levels, messages, long)
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
            "long_conversations": long_run, "idle_cpu": idle, "peak_rss_mb": memory, "handoff": handoff,
            "server_errors": server_errors}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--messages", type=int, default=200, help="messages per concurrency level")
    parser.add_argument("--skip-bare", action="store_true", help="only the shipped bot")
    parser.add_argument(
        "--topologies", nargs="+", choices=["single", "replicas"], default=["single", "replicas"]
    )
    parser.add_argument(
        "--long-conversations",
        type=int,
        default=5,
        metavar="N",
        help="long conversations per setup and topology, one after another (0: none)",
    )
    parser.add_argument(
        "--long-turns",
        type=int,
        default=60,
        metavar="T",
        help="turns of each long conversation (p50 reported at turns 2, T/2 and T)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latency.json",
                        help="where the JSON report goes (default bench/results/latency.json)")  # fmt: skip
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.long_conversations > 0 and args.long_turns < 6:
        parser.error("--long-turns must be at least 6 (three windows of three turns)")
    ours, bare = ensure_model(), None if args.skip_bare else bare_model()
    long = (args.long_conversations, args.long_turns)
    runs = []
    for topology in args.topologies:
        runs.append(measure("supportbot", ours, args.levels, args.messages, True, topology, long))
        if bare is not None:
            runs.append(measure("bare Rasa (default config)", bare, args.levels, args.messages, False,
                                topology, long, as_released=True))  # fmt: skip
    print_table(runs)
    targets = goals(runs)
    print_goals(targets)
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
        "goals": targets,
    }
    out.write_text(json.dumps(report, indent=2))
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
