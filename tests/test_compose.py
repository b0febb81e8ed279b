"""docker-compose.yml and the native production start run the same front: deploy/haproxy.cfg.

Docker does not run on the CI machines, so these checks read the file: compose mounts
the one haproxy.cfg the native start runs, and HAProxy itself accepts that file with
compose's environment and with the native one; the services exist with health checks,
the worker reaches Rasa's API through the internal frontend, and every variable Rasa's
production endpoints file needs is set. The image: .dockerignore keeps secrets, local data and
the build machine's virtualenv out, the servers run as an unprivileged user, git ignores .env.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml

from bot.cli import build_parser
from bot.front import FrontPorts, FrontSetupError, config_path, front_command, front_environment
from tests.support import ROOT
from tests.support.services import require_haproxy

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def bot_command(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    assert command[:3] == ["python", "-m", "bot"], command
    return command[3:]


def test_compose_and_the_native_start_run_the_same_haproxy_cfg_and_haproxy_accepts_both() -> None:
    binary = require_haproxy()
    front = SERVICES["haproxy"]
    assert front["image"].startswith("haproxy:2.")
    assert "./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in front["volumes"]
    assert config_path() == ROOT / "deploy" / "haproxy.cfg"
    assert front_command(binary)[1:] == ["-f", str(config_path()), "-db"]
    compose = {name: str(value) for name, value in front["environment"].items()}
    assert compose["HAPROXY_STATS_BIND"].startswith("127.0.0.1:")  # stats never leave the container
    assert front["ports"] == [f"5005:{compose['HAPROXY_PUBLIC_BIND'].rsplit(':', 1)[1]}"]  # public only
    native = front_environment({}, FrontPorts(5005, 5008, 5009), ["127.0.0.1:5015", "127.0.0.1:5025"])
    assert all(native[name].startswith("127.0.0.1:") for name in native if name.startswith("HAPROXY_"))
    for env in (native, compose):
        checked = subprocess.run(
            [binary, "-c", "-f", str(config_path())], env=env, capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
    with pytest.raises(FrontSetupError, match=r"--replicas 2\.\.4"):
        front_environment({}, FrontPorts(5005, 5008, 5009), ["127.0.0.1:5015"] * 5)
    for script in ("test.sh", "run-production.sh"):  # both install HAProxy when it is missing
        assert "./scripts/ensure-haproxy.sh" in (ROOT / "scripts" / script).read_text(), script


def test_two_rasa_replicas_behind_haproxy_with_every_service_health_checked() -> None:
    wanted = {"postgres", "redis", "rabbitmq", "actions", "rasa-1", "rasa-2", "haproxy", "worker"}
    assert wanted <= set(SERVICES)
    assert all("healthcheck" in service for name, service in SERVICES.items() if name != "migrate")
    assert SERVICES["rasa-1"]["command"] == SERVICES["rasa-2"]["command"]
    assert "endpoints.production.yml" in SERVICES["rasa-1"]["command"][-1]
    front = SERVICES["haproxy"]["environment"]
    assert [front["RASA_1"], front["RASA_2"]] == ["rasa-1:5005", "rasa-2:5005"]
    assert "ports" not in SERVICES["rasa-1"]  # customers reach the replicas only through the front
    worker = build_parser().parse_args(bot_command("worker"))
    api_port = front["HAPROXY_API_BIND"].rsplit(":", 1)[1]
    assert worker.rasa_url == f"http://haproxy:{api_port}"  # agent replies: the internal frontend
    assert str(worker.endpoints) == "endpoints.production.yml"


def test_every_variable_the_production_endpoints_need_is_set_for_rasa_and_the_consumers() -> None:
    needed = set(re.findall(r"\$\{(\w+)\}", (ROOT / "endpoints.production.yml").read_text()))
    assert {"RABBITMQ_QUEUE", "RABBITMQ_METRICS_QUEUE", "REDIS_HOST", "DB_HOST"} <= needed
    for name in ("rasa-1", "rasa-2", "worker"):
        environment = SERVICES[name]["environment"]
        wanted = needed if name.startswith("rasa") else needed - {"ACTION_ENDPOINT_URL"}  # Rasa's only
        assert wanted <= set(environment), (name, wanted - set(environment))
    assert SERVICES["rasa-1"]["environment"]["WEBCHAT_REDIS_URL"].startswith(
        "redis://:${REDIS_PASSWORD}@redis:"
    )
    redis = SERVICES["redis"]
    assert "--requirepass" in redis["command"][-1] and "REDIS_PASSWORD" in redis["environment"]
    assert "$$REDIS_PASSWORD" in redis["healthcheck"]["test"][-1]  # the health check authenticates too
    assert (
        SERVICES["haproxy"]["environment"]["RASA_AUTH_TOKEN"]
        == SERVICES["rasa-1"]["environment"]["RASA_AUTH_TOKEN"]
    )  # the health check of /status authenticates like the replicas expect


def test_the_schema_is_migrated_once_before_the_services_that_use_the_database() -> None:
    migrate = SERVICES["migrate"]
    assert build_parser().parse_args(migrate["command"][3:]).func.__name__ == "cmd_db_upgrade"
    assert (
        migrate["environment"]["SUPPORTBOT_DATABASE_URL"]
        == SERVICES["worker"]["environment"]["SUPPORTBOT_DATABASE_URL"]
    )
    for name in ("actions", "worker"):
        assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_production_requires_every_internal_token_and_loads_no_demo_customers() -> None:
    from bot.internal_tokens import ENV_NAMES

    shared = COMPOSE["x-database"]
    assert shared["SUPPORTBOT_ENVIRONMENT"] == "production"  # nothing generated, defaults refused
    for name in ENV_NAMES.values():  # compose stops with the message when one is unset
        assert re.fullmatch(rf"\$\{{{name}:\?set {name} in \.env \(docs/security\.md\)\}}", shared[name]), (
            name
        )
    assert "change-me" not in (ROOT / "docker-compose.yml").read_text()
    for name, service in SERVICES.items():
        assert "load-demo-data" not in str(service.get("command", "")), name


def test_internal_services_are_not_published_and_the_worker_only_on_loopback() -> None:
    published = {name: service["ports"] for name, service in SERVICES.items() if "ports" in service}
    assert published == {"haproxy": ["5005:5005"], "worker": ["127.0.0.1:5006:5006"]}
    actions = build_parser().parse_args(bot_command("actions"))
    assert actions.func.__name__ == "cmd_actions"  # the token-checking server, not bare rasa_sdk
    assert "bot.rasa_server" in SERVICES["rasa-1"]["command"][-1]  # token off the command line
    assert "--auth-token" not in SERVICES["rasa-1"]["command"][-1]
    assert "token=" in str(SERVICES["rasa-1"]["healthcheck"]["test"])  # /status needs the token


def dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continuation lines joined), as (INSTRUCTION, arguments)."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_the_image_never_contains_secrets_local_data_or_the_build_machines_virtualenv() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for secret in (".env", ".env.*", ".data/", ".venv/", "*.db", ".git/", "models/"):
        assert secret in patterns, f".dockerignore must exclude {secret}"
    assert not [p for p in patterns if p.startswith("!")]  # nothing re-included behind our back
    copies = [args for instruction, args in dockerfile_instructions() if instruction in ("COPY", "ADD")]
    assert ". ." in copies  # the one whole-tree copy: exactly what .dockerignore lets through


def test_the_servers_in_the_image_run_as_an_unprivileged_user() -> None:
    instructions = dockerfile_instructions()
    users = [
        (index, args.strip())
        for index, (instruction, args) in enumerate(instructions)
        if instruction == "USER"
    ]
    assert users, "the Dockerfile must switch to a non-root USER"
    last_index, user = users[-1]
    assert user.split(":")[0] not in ("root", "0"), user
    assert any("useradd" in args and user.split(":")[0] in args for i, args in instructions if i == "RUN")
    after = [instruction for instruction, _ in instructions[last_index + 1 :]]
    assert "RUN" not in after  # nothing after the switch runs as root either
    before = instructions[:last_index]
    owned = [args for instruction, args in before if instruction == "RUN" and "chown" in args]
    assert any(all(d in args for d in ("/app/.data", "/app/.cache", "/app/models")) for args in owned), (
        "the user must own the data directory, the model cache and models/ (and nothing else)"
    )
    assert after[-1] == "CMD"
    # Every compose service built from the image keeps that user (none overrides it with root).
    for name, service in SERVICES.items():
        if "build" in service:
            assert str(service.get("user", "app")).split(":")[0] not in ("root", "0"), name


def test_git_never_tracks_an_env_file_with_secrets() -> None:
    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", ".env", ".env.production", ".data/customers.db"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.stdout.split() == [".env", ".env.production", ".data/customers.db"], checked.stderr
