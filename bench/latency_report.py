"""The latency benchmark's tables: per setup and level, the ratios to bare Rasa, CPU per message,
cost by conversation length, peak memory, handoff times (the goals: bench/latency_goals.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


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
    print_cpu(runs)
    print_long(runs)
    print_memory(runs)
    print()
    for run in runs:
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


SERVERS = ("rasa", "actions", "worker", "front")  # the columns; replicas rasa-1, rasa-2 … sum into "rasa"


def _by_server(values: dict[str, float]) -> dict[str, list[float]]:
    """A per-process mapping grouped by column: the Rasa replicas under "rasa"."""
    grouped: dict[str, list[float]] = {}
    for name, value in values.items():
        grouped.setdefault("rasa" if name.startswith("rasa") else name, []).append(value)
    return grouped


def _cell(values: list[float] | None, digits: int = 1, joiner: str = " + ") -> str:
    if not values:
        return "—"
    return joiner.join(f"{v:,.{digits}f}" for v in values)


def print_cpu(runs: list[dict[str, Any]]) -> None:
    """CPU ms per message per server (Rasa replicas each, "a + b"), their total, the load client apart."""
    print()
    print("CPU ms per message (utime + stime, with descendants; bench/process_cpu.py):")
    print()
    print("| setup | topology | load | Rasa | actions | worker | front | total | load client |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        if run.get("idle_cpu"):  # the baseline: CPU ms per second with no messages at all
            grouped = _by_server(run["idle_cpu"]["ms_per_s"])
            cells = " | ".join(_cell(grouped.get(server)) for server in SERVERS)
            total = sum(run["idle_cpu"]["ms_per_s"].values())
            print(f"| {run['setup']} | {run['topology']} | idle, ms per second | {cells} | {total:.1f} | — |")
        rows = [(f"{row['concurrency']} conv.", row) for row in run["levels"]]
        if run.get("long_conversations"):
            long = run["long_conversations"]
            rows.append((f"{long['conversations']} × {long['turns']} turns", long))
        for label, row in rows:
            cpu = row["cpu"]
            grouped = _by_server(cpu["ms_per_message"])
            cells = " | ".join(_cell(grouped.get(server)) for server in SERVERS)
            total, client = cpu["total_ms_per_message"], cpu["load_client_ms_per_message"]
            print(f"| {run['setup']} | {run['topology']} | {label} | {cells} | {total:.1f} | {client:.1f} |")


def print_long(runs: list[dict[str, Any]]) -> None:
    """p50 latency early, midway and late in long conversations, and the late / early ratio."""
    long_runs = [run for run in runs if run.get("long_conversations")]
    if not long_runs:
        return
    turns = long_runs[0]["long_conversations"]["turns"]
    middle = turns // 2
    print()
    print(f"Cost by conversation length (p50 over turns 1–3, {middle - 1}–{middle + 1}, {turns - 2}–{turns}, "
          "pooled across the conversations; concurrency 1):")  # fmt: skip
    print()
    print(f"| setup | topology | conversations | errors | p50 turn 2 ms | p50 turn {middle} ms "
          f"| p50 turn {turns} ms | turn {turns} / turn 2 |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for run in long_runs:
        long = run["long_conversations"]
        p50 = long["p50_ms_at_turn"]
        print(f"| {run['setup']} | {run['topology']} | {long['conversations']} | {long['errors']} "
              f"| {p50['2']:.0f} | {p50[str(long['turns'] // 2)]:.0f} | {p50[str(long['turns'])]:.0f} "
              f"| {long['ratio_last_to_turn_2']:.2f} |")  # fmt: skip


def print_memory(runs: list[dict[str, Any]]) -> None:
    """Peak RSS (VmHWM) per server, read after the load and the long conversations."""
    print()
    print("Peak memory (RSS high-water mark, VmHWM) per server:")
    print()
    print("| setup | topology | Rasa peak RSS MB (each) | actions MB | worker MB | front MB |")
    print("|---|---|---:|---:|---:|---:|")
    for run in runs:
        grouped = _by_server(run["peak_rss_mb"])
        cells = " | ".join(_cell(grouped.get(server), 0, " / ") for server in SERVERS)
        print(f"| {run['setup']} | {run['topology']} | {cells} |")
