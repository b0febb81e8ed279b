"""The production front: HAProxy with ``deploy/haproxy.cfg`` in front of the Rasa replicas.

Why HAProxy and not a balancer of our own: it passes WebSocket upgrades and streams
bodies, it keeps Socket.IO sessions sticky the way the Socket.IO documentation describes,
and ``docker-compose.yml`` runs the same file in the official image, so there is one
production front to read and test, not two that a test must keep in step.

This module only knows how to start it (command and environment) and how to read its
stats page; what the front does is in ``deploy/haproxy.cfg``.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.settings import project_root, settings

BACKEND = "rasa"  # the backend's name in deploy/haproxy.cfg
MIN_REPLICAS, MAX_REPLICAS = 2, 4  # server lines rasa1..rasa4 in deploy/haproxy.cfg


class FrontSetupError(RuntimeError):
    """HAProxy is missing or the front is asked for something its config cannot do."""


def config_path() -> Path:
    return project_root() / "deploy" / "haproxy.cfg"


def haproxy_binary() -> str:
    """The ``haproxy`` executable (``SUPPORTBOT_HAPROXY`` or the PATH)."""
    found = settings().production.haproxy or shutil.which("haproxy")
    if not found:
        raise FrontSetupError(
            "haproxy is not installed (the production front runs deploy/haproxy.cfg): run "
            "./scripts/ensure-haproxy.sh, or `apt-get install haproxy`, or set SUPPORTBOT_HAPROXY"
        )
    return found


@dataclass(frozen=True)
class FrontPorts:
    """Where the front listens on this machine (all three on loopback natively)."""

    public: int
    api: int
    stats: int
    host: str = "127.0.0.1"

    @property
    def public_url(self) -> str:
        """Customers' channels: /webhooks/... and /socket.io/... only."""
        return f"http://{self.host}:{self.public}"

    @property
    def api_url(self) -> str:
        """Rasa's HTTP API, for our own workers."""
        return f"http://{self.host}:{self.api}"

    @property
    def stats_url(self) -> str:
        return f"http://{self.host}:{self.stats}/stats"

    @property
    def health_url(self) -> str:
        """200 while at least one replica is up."""
        return f"http://{self.host}:{self.stats}/health"


def front_environment(base: Mapping[str, str], ports: FrontPorts, replicas: list[str]) -> dict[str, str]:
    """``base`` plus the variables deploy/haproxy.cfg reads; ``replicas`` are ``host:port``."""
    if not MIN_REPLICAS <= len(replicas) <= MAX_REPLICAS:
        raise FrontSetupError(
            f"deploy/haproxy.cfg has server lines for {MIN_REPLICAS} to {MAX_REPLICAS} Rasa replicas, "
            f"not {len(replicas)}: use --replicas {MIN_REPLICAS}..{MAX_REPLICAS} or add `server rasaN` lines"
        )
    env = {name: value for name, value in base.items() if not _is_replica_variable(name)}
    env.update(
        HAPROXY_PUBLIC_BIND=f"{ports.host}:{ports.public}",
        HAPROXY_API_BIND=f"{ports.host}:{ports.api}",
        HAPROXY_STATS_BIND=f"{ports.host}:{ports.stats}",
    )
    for number, address in enumerate(replicas, start=1):
        env[f"RASA_{number}"] = address
    return env


def _is_replica_variable(name: str) -> bool:
    return name.startswith("RASA_") and name[5:].isdigit()


def front_command(binary: str | None = None) -> list[str]:
    """HAProxy in the foreground (``-db``): the parent stops it with SIGTERM."""
    return [binary or haproxy_binary(), "-f", str(config_path()), "-db"]


@dataclass(frozen=True)
class ReplicaState:
    """One replica as HAProxy sees it (a row of the stats CSV)."""

    name: str  # rasa1, rasa2 ...
    address: str  # host:port
    status: str  # UP, DOWN, "UP 1/2" (going down), "DOWN 1/2" (coming back), MAINT ...
    requests: int  # stot: requests sent to it since HAProxy started
    in_flight: int = 0  # scur: requests it is serving now

    @property
    def up(self) -> bool:
        return self.status.split()[0] == "UP"


def replica_states(stats_csv: str, backend: str = BACKEND) -> list[ReplicaState]:
    """The servers of ``backend`` from HAProxy's ``/stats;csv`` page."""
    rows = csv.DictReader(io.StringIO(stats_csv.removeprefix("# ")))
    return [
        ReplicaState(
            row["svname"],
            row.get("addr") or "",
            row["status"],
            int(row["stot"] or 0),
            int(row.get("scur") or 0),
        )
        for row in rows
        if row["pxname"] == backend and row["svname"] not in {"FRONTEND", "BACKEND"}
    ]


def read_replica_states(stats_url: str, timeout: float = 10.0) -> list[ReplicaState]:
    import requests

    answer = requests.get(f"{stats_url};csv", timeout=timeout)
    answer.raise_for_status()
    return replica_states(answer.text)
