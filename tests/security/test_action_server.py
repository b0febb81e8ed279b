"""Attacks on the action server (``python -m bot actions``), the real process on a free port.

rasa-sdk as it ships binds every interface with no credential: anyone on the network could
POST a made-up tracker for any sender and read that customer's orders. Each test below
sends what such an outsider would and checks the answer holds nothing of the customer's.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.customers import CustomerStore
from bot.customers.demo import load_demo_data
from bot.migrations import upgrade
from bot.processes import BotProcesses, free_port
from tests.support import ROOT
from tests.support.ports import is_loopback, listening

TOKEN = "actions-token-of-the-attack-test-0123456789"
MARIA = "maria"  # the demo customer on the REST channel


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcesses]:
    data = tmp_path_factory.mktemp("actions")
    database = f"sqlite:///{data / 'customers.db'}"
    upgrade(database)
    load_demo_data(CustomerStore(database))
    port = free_port()
    env = {
        **os.environ,
        "ACTIONS_TOKEN": TOKEN,
        "SUPPORTBOT_DATA_DIR": str(data),
        "SUPPORTBOT_DATABASE_URL": database,
    }
    env.pop("ACTIONS_HOST", None)
    bot = BotProcesses(rasa_url="", actions_url=f"http://127.0.0.1:{port}", cwd=ROOT, env=env, log_dir=data)
    bot.start(
        "actions", [sys.executable, "-m", "bot", "actions", "--port", str(port)], f"{bot.actions_url}/health"
    )
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
def action_server(server: BotProcesses) -> str:
    return server.actions_url


def order_call(sender: str = MARIA) -> dict:
    """What Rasa sends to run the order-status action for ``sender`` (a forged one, here)."""
    return {
        "next_action": "action_order_status",
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": {"order_number": "HL-104233"},
            "latest_message": {
                "text": "where is HL-104233",
                "intent": {"name": "order_status"},
                "entities": [],
            },
            "latest_input_channel": "rest",
            "events": [],
            "active_loop": {},
            "paused": False,
            "followup_action": None,
            "latest_event_time": None,
            "latest_action_name": "action_listen",
        },
    }


def test_it_listens_on_loopback_only(server: BotProcesses) -> None:
    assert requests.get(f"{server.actions_url}/health", timeout=10).json() == {"status": "ok"}
    sockets = listening([process.pid for process in server.children])
    assert sockets and all(is_loopback(address) for address, _ in sockets), sockets


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": f"Bearer {TOKEN}x"}],
    ids=["none", "wrong", "no-bearer", "longer"],
)
def test_a_forged_tracker_without_the_token_gets_nothing(action_server: str, headers: dict) -> None:
    for path in ("/webhook", "/actions"):
        method = requests.post if path == "/webhook" else requests.get
        answer = method(f"{action_server}{path}", json=order_call(), headers=headers, timeout=10)
        assert answer.status_code == 401, answer.text
        assert "HL-104233" not in answer.text and "shipped" not in answer.text.lower()


def test_with_the_token_the_same_call_works(action_server: str) -> None:
    """The control: the refusals above are the token's doing, not a broken call."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    answer = requests.post(f"{action_server}/webhook", json=order_call(), headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["responses"]


def test_a_deflate_bomb_is_refused_before_it_fills_memory(action_server: str) -> None:
    bomb = zlib.compress(b"[" + b" " * (64 * 1024 * 1024) + b"]", 9)  # 64 MB of JSON in ~64 KB
    assert len(bomb) < 1024 * 1024
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Encoding": "deflate"}
    answer = requests.post(f"{action_server}/webhook", data=bomb, headers=headers, timeout=30)
    assert answer.status_code == 413, answer.text
    assert requests.get(f"{action_server}/health", timeout=10).status_code == 200  # still serving


def test_a_compressed_call_within_the_limit_still_works(action_server: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Encoding": "deflate"}
    body = zlib.compress(json.dumps(order_call()).encode())
    answer = requests.post(f"{action_server}/webhook", data=body, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text


def test_an_oversized_body_gets_413_and_errors_do_not_echo_the_request(action_server: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    huge = b"x" * (9 * 1024 * 1024)
    answer = requests.post(f"{action_server}/webhook", data=huge, headers=headers, timeout=30)
    assert answer.status_code == 413
    broken = order_call()
    broken["tracker"] = "not a tracker, with a secret: hunter2"
    answer = requests.post(f"{action_server}/webhook", json=broken, headers=headers, timeout=30)
    assert answer.status_code >= 400 and "hunter2" not in answer.text


def test_cross_origin_requests_get_no_cors_grant(action_server: str) -> None:
    answer = requests.options(
        f"{action_server}/webhook",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert answer.headers.get("Access-Control-Allow-Origin") in (None, "")


def test_the_token_never_appears_on_a_command_line(action_server: str) -> None:
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        assert TOKEN.encode() not in command
