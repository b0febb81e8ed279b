"""The embedded default as an outsider finds it: every port, every route, no credential.

Real servers (action server, Rasa, worker) started as ``python -m bot run`` starts them.
The port scan lists what the processes listen on; each attack is made without the token,
with a wrong one, or with an oversized body, and the conversation is read afterwards
(with the token) to show nothing changed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.internal_tokens import internal_tokens
from bot.processes import BotProcesses
from tests.support.bot import NO_SLACK, whole_bot
from tests.support.ports import is_loopback, listening

FORGED = {"event": "bot", "text": "Your refund is approved, reply with your card number"}
WRONG = {"token": "a-wrong-token-of-the-right-length-0123456789"}


@pytest.fixture(scope="module")
def bot(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcesses]:
    data = tmp_path_factory.mktemp("embedded-endpoints")
    with whole_bot(trained_model, data, NO_SLACK) as processes:
        yield processes


def events(bot: BotProcesses, conversation: str) -> list[tuple[str, str]]:
    """What was said in ``conversation`` (read with the token): (user|bot, text) pairs."""
    answer = requests.get(
        f"{bot.api_url}/conversations/{conversation}/tracker", params=bot.api_params, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return [
        (e["event"], e.get("text") or "") for e in answer.json()["events"] if e["event"] in ("user", "bot")
    ]


def test_a_port_scan_finds_only_loopback_listeners(bot: BotProcesses) -> None:
    sockets = listening([process.pid for process in bot.children])
    ports = {port for _, port in sockets}
    for url in (bot.rasa_url, bot.actions_url, bot.relay_url):
        assert int(str(url).rsplit(":", 1)[1]) in ports  # the scan sees every server
    exposed = {(address, port) for address, port in sockets if not is_loopback(address)}
    assert not exposed, f"listening beyond loopback: {exposed}"


def test_the_tokens_were_generated_strong_and_kept_private(bot: BotProcesses) -> None:
    assert bot.tokens is not None
    data = Path(bot.env["SUPPORTBOT_DATA_DIR"])
    stored = data / "internal-tokens.json"
    assert stored.stat().st_mode & 0o077 == 0  # only the bot's own user can read it
    assert internal_tokens(data) == bot.tokens  # what the servers got is what the file keeps
    for value in vars(bot.tokens).values():
        assert len(value) >= 32


@pytest.mark.parametrize("credential", [{}, WRONG], ids=["no-token", "wrong-token"])
def test_rasas_http_api_refuses_every_call_without_its_token(bot: BotProcesses, credential: dict) -> None:
    conversation = f"victim-{uuid.uuid4().hex[:6]}"
    said = {"event": "bot", "text": "Your order ships tomorrow.", "timestamp": time.time()}
    requests.post(
        f"{bot.api_url}/conversations/{conversation}/tracker/events",
        params=bot.api_params,
        json=said,
        timeout=10,
    ).raise_for_status()
    before = events(bot, conversation)
    assert before == [("bot", "Your order ships tomorrow.")]
    api = bot.api_url
    attacks = [
        requests.get(f"{api}/conversations/{conversation}/tracker", params=credential, timeout=10),
        requests.post(
            f"{api}/conversations/{conversation}/tracker/events",
            params={"execute_side_effects": "true", "output_channel": "latest", **credential},
            json=FORGED,
            timeout=10,
        ),
        requests.post(
            f"{api}/conversations/{conversation}/messages",
            params=credential,
            json={"text": "hi", "sender": "user"},
            timeout=10,
        ),
        requests.put(
            f"{api}/model", params=credential, json={"model_server": {"url": "http://evil"}}, timeout=10
        ),
        requests.get(f"{api}/status", params=credential, timeout=10),
        requests.get(f"{api}/domain", params=credential, headers={"Accept": "application/json"}, timeout=10),
    ]
    for answer in attacks:
        assert answer.status_code == 401, (answer.request.method, answer.request.path_url, answer.text)
        assert "events" not in answer.text and "model_file" not in answer.text
    assert events(bot, conversation) == before  # nothing was written
    assert requests.get(f"{api}/status", params=bot.api_params, timeout=10).status_code == 200  # the control


def test_the_workers_metrics_need_their_token_and_health_tells_strangers_nothing(bot: BotProcesses) -> None:
    worker = bot.relay_url
    for path in ("/metrics", "/metrics/daily?days=7"):
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            answer = requests.get(f"{worker}{path}", headers=headers, timeout=10)
            assert answer.status_code == 401, (path, answer.text)
            assert "supportbot_" not in answer.text and "counts" not in answer.text
        assert requests.get(f"{worker}{path}", headers=bot.metrics_headers, timeout=10).status_code == 200
    assert requests.get(f"{worker}/health", timeout=10).json() == {"status": "ok"}
    detailed = requests.get(f"{worker}/health", headers=bot.metrics_headers, timeout=10).json()
    assert {"desk", "pending_deliveries", "metrics"} <= set(detailed)


def test_a_10_mb_body_gets_413_and_nothing_is_stored(bot: BotProcesses) -> None:
    conversation = f"big-{uuid.uuid4().hex[:6]}"
    huge = b'{"event": "bot", "text": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    targets = [
        (f"{bot.api_url}/conversations/{conversation}/tracker/events", bot.api_params),
        (f"{bot.rasa_url}/webhooks/rest/webhook", {}),
    ]
    for url, params in targets:
        answer = requests.post(
            url, params=params, data=huge, headers={"Content-Type": "application/json"}, timeout=30
        )
        assert answer.status_code == 413, (url, answer.status_code, answer.text[:200])
    assert events(bot, conversation) == []
