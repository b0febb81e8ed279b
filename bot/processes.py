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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class BotProcesses:
    rasa_url: str
    actions_url: str
    children: list[subprocess.Popen] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def webhook_url(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    def stop(self, timeout: float = 15.0) -> None:
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
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
    tracker = config.get("tracker_store") or {}
    if tracker.get("dialect") == "sqlite" and not Path(str(tracker.get("db", ""))).is_absolute():
        tracker["db"] = str(data_directory / Path(str(tracker.get("db") or "tracker.db")).name)
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
) -> BotProcesses:
    """Start action server then Rasa server; return once both answer their health checks.

    ``data_directory`` (default: ``SUPPORTBOT_DATA_DIR`` or ``.data/``) holds the SQLite
    tracker and customer databases of this run.
    """
    root = project_root()
    data_directory = data_directory or data_dir()
    child_env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "SUPPORTBOT_DATA_DIR": str(data_directory),
        **(env or {}),
    }
    bot = BotProcesses(
        rasa_url=f"http://127.0.0.1:{rasa_port}", actions_url=f"http://127.0.0.1:{actions_port}"
    )

    def spawn(name: str, args: list[str]) -> tuple[subprocess.Popen, Path | None]:
        log_path = None
        out: int | IO[bytes] | None = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            log_path = log_dir / f"{name}.log"
            out = log_path.open("wb")
            bot.logs.append(out)
        child = subprocess.Popen(
            args, cwd=root, env=child_env, stdout=out, stderr=subprocess.STDOUT if out else None
        )
        bot.children.append(child)
        return child, log_path

    run_endpoints = prepare_endpoints(endpoints, bot.actions_url, data_directory / "run", data_directory)
    try:
        actions, actions_log = spawn(
            "actions",
            [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(actions_port)],
        )
        rasa, rasa_log = spawn(
            "rasa",
            [
                sys.executable, "-m", "rasa", "run", "--enable-api",
                "--model", str(model), "--endpoints", str(run_endpoints),
                "--credentials", str(credentials or root / "credentials.yml"),
                "--port", str(rasa_port), "--interface", "127.0.0.1",
            ],
        )  # fmt: skip
        _wait_until(f"{bot.actions_url}/health", actions, timeout, "action server", actions_log)
        _wait_until(f"{bot.rasa_url}/status", rasa, timeout, "Rasa server", rasa_log)
    except BaseException:
        bot.stop()
        raise
    return bot
