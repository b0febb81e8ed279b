"""Start the Rasa server and the action server as child processes and wait until healthy.

Used by ``supportbot run`` and by the test suite, so both exercise the same start-up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import requests
import yaml

from bot.settings import data_dir, project_root


class StartupError(RuntimeError):
    """A server exited or did not become healthy in time."""


# Rasa and the action server are Sanic apps, which drop an idle keep-alive connection
# after 5 s, while their aiohttp clients (Rasa calling actions, the balancer calling Rasa)
# reuse one for 15 s. Under load a request then goes out on a connection the server is
# closing ("Cannot write to closing transport") and the customer gets no answer (measured:
# 5 of 100 messages at 100 concurrent conversations). Servers must outlive their clients.
SANIC_KEEP_ALIVE_SECONDS = "75"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Child:
    """One server process and how to start it again."""

    name: str
    args: list[str]
    health_url: str
    process: subprocess.Popen | None = None
    log_path: Path | None = None


@dataclass
class BotProcesses:
    rasa_url: str
    actions_url: str
    relay_url: str | None = None
    metrics_url: str | None = None
    cwd: Path = field(default_factory=project_root)
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    started: dict[str, Child] = field(default_factory=dict)
    logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def webhook_url(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    @property
    def children(self) -> list[subprocess.Popen]:
        return [child.process for child in self.started.values() if child.process is not None]

    def start(self, name: str, args: list[str], health_url: str, timeout: float = 180.0) -> None:
        """Start (or start again) a named server and wait until its health URL answers 200."""
        out: int | IO[bytes] | None = None
        log_path = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{name}.log"
            out = log_path.open("ab")
            self.logs.append(out)
        process = subprocess.Popen(
            args, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT if out else None
        )
        self.started[name] = Child(name, args, health_url, process, log_path)
        _wait_until(health_url, process, timeout, name, log_path)

    def stop_one(self, name: str, timeout: float = 15.0) -> None:
        """Stop one server (SIGTERM, then SIGKILL after ``timeout``)."""
        child = self.started[name]
        if child.process is not None and child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
            try:
                child.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()

    def restart(self, name: str, timeout: float = 180.0) -> None:
        child = self.started[name]
        self.stop_one(name)
        self.start(name, child.args, child.health_url, timeout)

    def stop(self, timeout: float = 15.0) -> None:
        for child in self.started.values():
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for name in self.started:
            self.stop_one(name, timeout)
        for log in self.logs:
            log.close()


def _wait_until(url: str, child: subprocess.Popen, timeout: float, what: str, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            hint = f"; see {log}" if log else ""
            raise StartupError(f"{what} exited with code {child.returncode} while starting{hint}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise StartupError(f"{what} not healthy at {url} after {timeout:.0f} s")


def prepare_endpoints(source: Path, actions_url: str, target_dir: Path, data_directory: Path) -> Path:
    """Copy of ``source`` pointing at this run's action server and data directory.

    The checked-in endpoints file names the default port and a relative SQLite path;
    a run on other ports or with ``SUPPORTBOT_DATA_DIR`` set needs both adjusted.
    """
    config = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    config.setdefault("action_endpoint", {})["url"] = f"{actions_url}/webhook"
    for section, default in (("tracker_store", "tracker.db"), ("event_broker", "broker.db")):
        store = config.get(section) or {}
        if store.get("dialect") == "sqlite" and not Path(str(store.get("db", ""))).is_absolute():
            store["db"] = str(data_directory / Path(str(store.get("db") or default)).name)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"endpoints-{os.getpid()}-{actions_url.rsplit(':', 1)[-1]}.yml"
    target.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return target


def start_bot(
    model: Path,
    *,
    endpoints: Path,
    credentials: Path | None = None,
    rasa_port: int = 5005,
    actions_port: int = 5055,
    env: dict[str, str] | None = None,
    data_directory: Path | None = None,
    log_dir: Path | None = None,
    timeout: float = 180.0,
    relay_port: int | None = None,
    metrics_port: int | None = None,
    replica_ports: list[int] | None = None,
) -> BotProcesses:
    """Start action server, Rasa server and (with ``relay_port``) the handoff relay.

    Returns once all answer their health checks.

    ``data_directory`` (default: ``SUPPORTBOT_DATA_DIR`` or ``.data/``) holds the SQLite
    tracker and customer databases of this run. ``metrics_port`` adds the metrics service.
    ``replica_ports`` (two or more, production stores only) starts one Rasa replica per
    port, named ``rasa-1``, ``rasa-2``…, behind the balancer on ``rasa_port``.
    """
    root = project_root()
    data_directory = data_directory or data_dir()
    child_env = {
        "SANIC_KEEP_ALIVE_TIMEOUT": SANIC_KEEP_ALIVE_SECONDS,
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "SUPPORTBOT_DATA_DIR": str(data_directory),
        **(env or {}),
    }
    if replica_ports:
        # Each replica's PyTorch/OpenMP would use every core; N replicas then fight over them
        # (2 replicas on 2 cores: 12.5 msgs/s at 100 conversations, 22.8 with one thread each).
        threads = str(max(1, (os.cpu_count() or 1) // len(replica_ports)))
        child_env.setdefault("OMP_NUM_THREADS", threads)
    rasa_args = [
        sys.executable, "-m", "rasa", "run", "--enable-api",
        "--model", str(model), "--endpoints", "ENDPOINTS",
        "--credentials", str(credentials or root / "credentials.yml"),
        "--port", str(rasa_port), "--interface", "127.0.0.1",
    ]  # fmt: skip
    if child_env.get("RASA_AUTH_TOKEN"):
        rasa_args += ["--auth-token", child_env["RASA_AUTH_TOKEN"]]
    bot = BotProcesses(
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        actions_url=f"http://127.0.0.1:{actions_port}",
        cwd=root,
        env=child_env,
        log_dir=log_dir,
    )
    run_endpoints = prepare_endpoints(endpoints, bot.actions_url, data_directory / "run", data_directory)
    rasa_args[rasa_args.index("ENDPOINTS")] = str(run_endpoints)
    try:
        bot.start(
            "actions",
            [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(actions_port)],
            f"{bot.actions_url}/health", timeout,
        )  # fmt: skip
        if replica_ports:
            for number, port in enumerate(replica_ports, start=1):
                args = [*rasa_args]
                args[args.index("--port") + 1] = str(port)
                bot.start(f"rasa-{number}", args, f"http://127.0.0.1:{port}/status", timeout)
            balancer = [sys.executable, "-m", "bot", "balance", "--port", str(rasa_port)]
            for port in replica_ports:
                balancer += ["--replica", f"http://127.0.0.1:{port}"]
            bot.start("balancer", balancer, f"{bot.rasa_url}/_balancer/health", timeout)
        else:
            bot.start("rasa", rasa_args, f"{bot.rasa_url}/status", timeout)
        if metrics_port is not None:
            bot.metrics_url = f"http://127.0.0.1:{metrics_port}"
            bot.start(
                "metrics",
                [sys.executable, "-m", "bot", "metrics", "--port", str(metrics_port),
                 "--endpoints", str(run_endpoints)],
                f"{bot.metrics_url}/health", timeout,
            )  # fmt: skip
        if relay_port is not None:
            bot.relay_url = f"http://127.0.0.1:{relay_port}"
            bot.start(
                "relay",
                [sys.executable, "-m", "bot", "relay", "--port", str(relay_port),
                 "--endpoints", str(run_endpoints), "--rasa-url", bot.rasa_url],
                f"{bot.relay_url}/health", timeout,
            )  # fmt: skip
    except BaseException:
        bot.stop()
        raise
    return bot
