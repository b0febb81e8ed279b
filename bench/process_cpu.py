"""CPU time the bot's servers spend per message, read from /proc.

Why: latency on a 2-core machine mixes waiting with working; CPU milliseconds per message
say what each server really costs, and so how many messages per second a core can carry.

What is counted for each started server (``bot.started``: rasa or rasa-1/rasa-2, actions,
worker, front = HAProxy): ``utime + stime`` of the process (all its threads: /proc/<pid>/stat
sums them), plus the same for every live descendant (found by scanning /proc for parent
pids; this kernel has no /proc/<pid>/task/<tid>/children), plus ``cutime + cstime`` (the
descendants already exited and waited for). A descendant that exits between two snapshots
moves from the "live" part to its parent's ``cutime``, so the sum stays consistent; only an
orphan reaped by init would be lost. None of our servers forks workers today (Sanic 21.12 with
one worker serves in-process; HAProxy runs with ``-db`` in the foreground), which the
``descendants`` count in the JSON shows.

Not counted: the PostgreSQL, Redis and RabbitMQ servers (shared system services, not started
by the bot) and the benchmark's own load client, which is reported apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessCpu:
    """CPU time of one server at one moment, in ms."""

    own_ms: float  # the process itself, every thread
    descendants_ms: float  # live descendants, plus those exited and waited for (cutime + cstime)
    descendants: int  # how many live descendants there were

    @property
    def total_ms(self) -> float:
        return self.own_ms + self.descendants_ms


def _stat(pid: int) -> tuple[int, list[str]] | None:
    """(parent pid, the fields after the command name) of /proc/<pid>/stat, or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may hold spaces or ")": split after the last ")".
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields  # fields[0] = state (field 3 of proc(5)), fields[1] = ppid


def _times(fields: list[str]) -> tuple[float, float]:
    """(utime + stime, cutime + cstime) in ms: fields 14–17 of proc(5), 0-based 11–14 here."""
    own = (int(fields[11]) + int(fields[12])) * TICK_MS
    waited = (int(fields[13]) + int(fields[14])) * TICK_MS
    return own, waited


def snapshot(pids: dict[str, int]) -> dict[str, ProcessCpu]:
    """CPU time so far of each named process and its descendants (a process gone counts 0)."""
    stats: dict[int, list[str]] = {}
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _stat(int(entry.name))) is not None:
            parent, fields = found
            stats[int(entry.name)] = fields
            children.setdefault(parent, []).append(int(entry.name))
    result = {}
    for name, pid in pids.items():
        if pid not in stats:
            result[name] = ProcessCpu(0.0, 0.0, 0)
            continue
        own, waited = _times(stats[pid])
        # Each exited descendant sits in the cutime of the one process that waited for it:
        # ``pid`` itself or a live descendant, so adding both parts counts it exactly once.
        below = [_times(stats[child]) for child in _descendants(pid, children)]
        result[name] = ProcessCpu(own, waited + sum(o + w for o, w in below), len(below))
    return result


def _descendants(pid: int, children: dict[int, list[int]]) -> list[int]:
    found, stack = [], list(children.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(children.get(child, []))
    return found


def per_message(
    before: dict[str, ProcessCpu], after: dict[str, ProcessCpu], messages: int
) -> dict[str, object]:
    """CPU ms per message of each process between two snapshots, and their total."""
    used = {
        name: after[name].total_ms - before[name].total_ms if name in before else after[name].total_ms
        for name in after
    }
    count = max(1, messages)
    return {
        "ms_per_message": {name: ms / count for name, ms in used.items()},
        "total_ms_per_message": sum(used.values()) / count,
        "cpu_ms": used,
        "descendants": {name: after[name].descendants for name in after},
    }


def client_cpu_ms() -> float:
    """CPU ms of this process (the load client, every thread) so far; its children excluded."""
    times = os.times()
    return (times.user + times.system) * 1000
