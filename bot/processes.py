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

from bot.front import FrontPorts, front_command, front_environment
from bot.internal_tokens import ENV_NAMES, InternalTokens, check_strength, internal_tokens
from bot.settings import child_environment, data_dir, project_root, settings


class StartupError(RuntimeError):
    """A server exited or did not become healthy in time."""


# Rasa and the action server are Sanic apps, which drop an idle keep-alive connection
# after 5 s, while their clients (Rasa's aiohttp calling actions, HAProxy calling Rasa)
# reuse one longer. Under load a request then goes out on a connection the server is
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
    health_params: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    env: dict[str, str] | None = None  # None: the BotProcesses' environment


@dataclass
class BotProcesses:
    rasa_url: str  # where customers' channels arrive: Rasa, or the front's public side
    actions_url: str
    api_url: str = ""  # Rasa's HTTP API for our own processes (default: rasa_url)
    front: FrontPorts | None = None  # the HAProxy front, in replica mode
    relay_url: str | None = None
    metrics_url: str | None = None
    cwd: Path = field(default_factory=project_root)
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    started: dict[str, Child] = field(default_factory=dict)
    logs: list[IO[bytes]] = field(default_factory=list)
    tokens: InternalTokens | None = None  # the credentials the servers of this run expect

    def __post_init__(self) -> None:
        self.api_url = self.api_url or self.rasa_url

    @property
    def api_params(self) -> dict[str, str]:
        """The query a client of Rasa's HTTP API sends (Rasa 3.6 reads its token from ``?token=`` only)."""
        return {"token": self.tokens.rasa_auth_token} if self.tokens else {}

    @property
    def rest_headers(self) -> dict[str, str]:
        """What a trusted integration sends to the REST channel."""
        return {"Authorization": f"Bearer {self.tokens.rest_token}"} if self.tokens else {}

    @property
    def metrics_headers(self) -> dict[str, str]:
        """What a client of the worker's /metrics (Prometheus, tests) sends."""
        return {"Authorization": f"Bearer {self.tokens.metrics_token}"} if self.tokens else {}

    @property
    def webhook_url(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    @property
    def children(self) -> list[subprocess.Popen]:
        return [child.process for child in self.started.values() if child.process is not None]

    def start(
        self,
        name: str,
        args: list[str],
        health_url: str,
        timeout: float = 180.0,
        env: dict[str, str] | None = None,
        health_params: dict[str, str] | None = None,
    ) -> None:
        """Start (or start again) a named server and wait until its health URL answers 200."""
        out: int | IO[bytes] | None = None
        log_path = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{name}.log"
            out = log_path.open("ab")
            self.logs.append(out)
        process = subprocess.Popen(
            args, cwd=self.cwd, env=env or self.env, stdout=out, stderr=subprocess.STDOUT if out else None
        )
        self.started[name] = Child(name, args, health_url, health_params or {}, process, log_path, env)
        _wait_until(health_url, process, timeout, name, log_path, health_params or {})

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
        self.start(name, child.args, child.health_url, timeout, child.env, child.health_params)

    def stop(self, timeout: float = 15.0) -> None:
        for child in self.started.values():
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for name in self.started:
            self.stop_one(name, timeout)
        for log in self.logs:
            log.close()


def _wait_until(
    url: str, child: subprocess.Popen, timeout: float, what: str, log: Path | None, params: dict[str, str]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            hint = f"; see {log}" if log else ""
            raise StartupError(f"{what} exited with code {child.returncode} while starting{hint}")
        try:
            if requests.get(url, params=params, timeout=2).status_code == 200:
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
    action_endpoint = config.setdefault("action_endpoint", {})
    action_endpoint["url"] = f"{actions_url}/webhook"
    # Rasa expands ${ACTIONS_TOKEN} from its environment: no secret is written to the file.
    action_endpoint.setdefault("headers", {})["Authorization"] = "Bearer ${ACTIONS_TOKEN}"
    for section, default in (("tracker_store", "tracker.db"), ("event_broker", "broker.db")):
        store = config.get(section) or {}
        if store.get("dialect") == "sqlite" and not Path(str(store.get("db", ""))).is_absolute():
            store["db"] = str(data_directory / Path(str(store.get("db") or default)).name)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"endpoints-{os.getpid()}-{actions_url.rsplit(':', 1)[-1]}.yml"
    target.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return target


def upgrade_database(url: str) -> None:
    """Migrate the shared database once, before the servers start: they only check the schema
    (five processes upgrading at once would race), so this is the start command's job."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db import where
    from bot.migrations import upgrade

    try:
        upgrade(url)
    except SQLAlchemyError as exc:
        raise StartupError(
            f"cannot migrate the database {where(url)} ({exc.__class__.__name__}: {exc}); "
            "check SUPPORTBOT_DATABASE_URL and that the database server is up"
        ) from exc


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
    worker_port: int | None = None,
    replica_ports: list[int] | None = None,
    api_port: int | None = None,
    front_stats_port: int | None = None,
) -> BotProcesses:
    """Start action server, Rasa server and (with ``worker_port``) the worker.

    Returns once all answer their health checks.

    ``data_directory`` (default: ``SUPPORTBOT_DATA_DIR`` or ``.data/``) holds the SQLite
    tracker and customer databases of this run. The worker (bot/worker.py: handoff relay,
    metrics, X poller and outbox) is named ``worker``; ``relay_url`` and ``metrics_url``
    both point at it. ``replica_ports`` (two or more, production stores only) starts one
    Rasa replica per port, named ``rasa-1``, ``rasa-2``…, behind HAProxy (``front``,
    deploy/haproxy.cfg): customers' channels on ``rasa_port``, Rasa's HTTP API for the worker
    on ``api_port``, its stats on ``front_stats_port`` (free ports when not given).
    """
    root = project_root()
    data_directory = data_directory or data_dir()
    child_env = {
        "SANIC_KEEP_ALIVE_TIMEOUT": SANIC_KEEP_ALIVE_SECONDS,
        **child_environment(),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "SUPPORTBOT_DATA_DIR": str(data_directory),
        **internal_tokens(data_directory).environment(),  # generated once, or the environment's
        **(env or {}),
    }
    for name in ENV_NAMES.values():  # a token passed in ``env`` must be as strong as any other
        check_strength(name, child_env[name])
    tokens = InternalTokens(**{key: child_env[name] for key, name in ENV_NAMES.items()})
    # Rasa's Sanic reads SANIC_* variables: bodies past the cap get a 413 before any channel
    # sees them (the action server sets its own, larger cap: bot/action_server.py).
    rasa_env = {**child_env, "SANIC_REQUEST_MAX_SIZE": str(settings().security.max_body_bytes)}
    rasa_host = settings().security.rasa_host
    rasa_auth = {"token": tokens.rasa_auth_token}
    if replica_ports:
        # Each replica's PyTorch/OpenMP would use every core; N replicas then fight over them
        # (2 replicas on 2 cores: 12.5 msgs/s at 100 conversations, 22.8 with one thread each).
        threads = str(max(1, (os.cpu_count() or 1) // len(replica_ports)))
        child_env.setdefault("OMP_NUM_THREADS", threads)
    credentials_file = credentials or root / "credentials.yml"
    rasa_args = [
        sys.executable,
        "-m",
        "bot.rasa_server",
        "run",
        "--enable-api",
        "--model",
        str(model),
        "--endpoints",
        "ENDPOINTS",
        "--credentials",
        str(credentials_file),
        "--port",
        str(rasa_port),
        "--interface",
        rasa_host,
    ]  # fmt: skip (the token reaches Rasa through its environment: bot/rasa_server.py)
    bot = BotProcesses(
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        actions_url=f"http://127.0.0.1:{actions_port}",
        cwd=root,
        env=child_env,
        log_dir=log_dir,
        tokens=tokens,
    )
    run_endpoints = prepare_endpoints(endpoints, bot.actions_url, data_directory / "run", data_directory)
    rasa_args[rasa_args.index("ENDPOINTS")] = str(run_endpoints)
    # The servers' database: SUPPORTBOT_DATABASE_URL, or (as bot.settings) customers.db in their data dir.
    database = child_env.get("SUPPORTBOT_DATABASE_URL") or f"sqlite:///{data_directory / 'customers.db'}"
    upgrade_database(database)
    try:
        bot.start(
            "actions",
            [sys.executable, "-m", "bot", "actions", "--port", str(actions_port)],
            f"{bot.actions_url}/health", timeout,
        )  # fmt: skip
        if replica_ports:
            for number, port in enumerate(replica_ports, start=1):
                args = [*rasa_args]
                args[args.index("--port") + 1] = str(port)
                bot.start(
                    f"rasa-{number}", args, f"http://127.0.0.1:{port}/status", timeout, rasa_env, rasa_auth
                )
            bot.front = FrontPorts(rasa_port, api_port or free_port(), front_stats_port or free_port())
            bot.api_url = bot.front.api_url
            replicas = [f"127.0.0.1:{port}" for port in replica_ports]
            front_env = front_environment(child_env, bot.front, replicas)
            bot.start("front", front_command(), bot.front.health_url, timeout, front_env)
        else:
            bot.start("rasa", rasa_args, f"{bot.rasa_url}/status", timeout, rasa_env, rasa_auth)
        if worker_port is not None:
            bot.relay_url = bot.metrics_url = f"http://127.0.0.1:{worker_port}"
            bot.start(
                "worker",
                [sys.executable, "-m", "bot", "worker", "--port", str(worker_port),
                 "--endpoints", str(run_endpoints), "--credentials", str(credentials_file),
                 "--rasa-url", bot.api_url],
                f"{bot.relay_url}/health", timeout,
            )  # fmt: skip
    except BaseException:
        bot.stop()
        raise
    return bot
