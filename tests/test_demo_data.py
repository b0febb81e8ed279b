"""Production starts without the demo customers; the embedded default keeps them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.cli import wants_demo_data
from bot.customers import CustomerStore

ROOT = Path(__file__).resolve().parent.parent


def test_only_the_embedded_default_loads_the_demo_customers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPPORTBOT_ENVIRONMENT", raising=False)
    assert wants_demo_data(production_flag=False)
    assert not wants_demo_data(production_flag=True)  # run --production
    monkeypatch.setenv("SUPPORTBOT_ENVIRONMENT", "production")
    assert not wants_demo_data(production_flag=False)


def test_no_compose_service_loads_demo_data() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    for name, service in compose["services"].items():
        assert "load-demo-data" not in str(service.get("command", "")), name
    assert "load-demo-data" not in (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_load_demo_data_refuses_a_production_database_unless_told(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'customers.db'}"
    env = {**os.environ, "SUPPORTBOT_ENVIRONMENT": "production", "SUPPORTBOT_DATABASE_URL": url,
           "SUPPORTBOT_DATA_DIR": str(tmp_path)}  # fmt: skip

    def load(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "load-demo-data", *extra], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip

    refused = load()
    assert refused.returncode == 1 and "--even-in-production" in refused.stderr
    assert not (tmp_path / "customers.db").exists()  # not even migrated
    forced = load("--even-in-production")
    assert forced.returncode == 0, forced.stderr
    assert CustomerStore(url).customer_count() == 3
