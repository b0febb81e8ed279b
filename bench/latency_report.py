"""The latency benchmark's table: per setup and level, the ratios to bare Rasa, memory, handoff times."""

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
