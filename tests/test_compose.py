"""docker-compose.yml describes the production topology the native script runs.

Docker does not run on the CI machines, so these checks read the file: the services the
issue asks for exist with health checks, every variable Rasa's production endpoints file
needs is set, and every ``python -m bot`` command parses with the real CLI.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from bot.cli import build_parser
from tests.conftest import ROOT

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def bot_command(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    assert command[:3] == ["python", "-m", "bot"], command
    return command[3:]


def test_two_rasa_replicas_behind_the_balancer_with_every_service_health_checked() -> None:
    assert {
        "postgres",
        "redis",
        "rabbitmq",
        "actions",
        "rasa-1",
        "rasa-2",
        "balancer",
        "metrics",
        "relay",
    } <= set(SERVICES)
    assert all("healthcheck" in service for service in SERVICES.values())
    assert SERVICES["rasa-1"]["command"] == SERVICES["rasa-2"]["command"]
    assert "endpoints.production.yml" in SERVICES["rasa-1"]["command"][-1]
    balance = build_parser().parse_args(bot_command("balancer"))
    assert balance.replica == ["http://rasa-1:5005", "http://rasa-2:5005"]
    assert SERVICES["balancer"]["ports"] == ["5005:5005"]
    relay = build_parser().parse_args(bot_command("relay"))
    assert relay.rasa_url == "http://balancer:5005"  # agent replies go through the balancer too
    metrics = build_parser().parse_args(bot_command("metrics"))
    assert str(metrics.endpoints) == "endpoints.production.yml"


def test_every_variable_the_production_endpoints_need_is_set_for_rasa_and_the_consumers() -> None:
    needed = set(re.findall(r"\$\{(\w+)\}", (ROOT / "endpoints.production.yml").read_text()))
    assert {"RABBITMQ_QUEUE", "RABBITMQ_METRICS_QUEUE", "REDIS_HOST", "DB_HOST"} <= needed
    for name in ("rasa-1", "rasa-2", "relay", "metrics"):
        environment = SERVICES[name]["environment"]
        wanted = needed if name.startswith("rasa") else needed - {"ACTION_ENDPOINT_URL"}  # Rasa's only
        assert wanted <= set(environment), (name, wanted - set(environment))
    assert SERVICES["rasa-1"]["environment"]["WEBCHAT_REDIS_URL"].startswith("redis://redis:")
