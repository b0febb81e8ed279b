"""The help center end to end: a new Markdown article is indexed at training and answers.

A support lead adds knowledge/<slug>.md and retrains; nothing else. The model here is trained
for real (``rasa train nlu`` with the shipped pipeline, its KnowledgeRetriever pointed at a
folder holding the new article next to the shipped ones), then asked a question only the new
article answers.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import ActionKnowledgeAnswer
from bot.nlu.knowledge_retriever import KNOWLEDGE_INTENT, KnowledgeRetriever
from bot.settings import child_environment, project_root
from tests.support.trackers import DOMAIN, tracker, user

NEW_ARTICLE = """---
title: Use the Hearthlink Thermostat with a heat pump
url: https://help.hearthlink.example/articles/heat-pump
tags: [thermostat, heat pump]
questions:
  - "does the thermostat work with my heat pump"
  - "heat pump aux heat keeps kicking in with the thermostat"
---
The Hearthlink Thermostat runs single-stage and two-stage heat pumps, with or without
auxiliary heat. Choose Heat pump during pairing and set the O/B reversing valve.

## How do I set the reversing valve?
In the app open Thermostat → Settings → Equipment → Reversing valve and pick O (energised for
cooling) or B (energised for heating), as labelled on your old thermostat's wires.

## Why does auxiliary heat come on so often?
Aux heat starts when the room is more than 2 °C below the target. Raise Aux heat lockout in
Settings → Equipment to let the heat pump work longer on its own.
"""


def knowledge_with_new_article(folder: Path) -> Path:
    shutil.copytree(project_root() / "knowledge", folder)
    (folder / "heat-pump.md").write_text(NEW_ARTICLE, encoding="utf-8")
    return folder


def test_editing_an_article_changes_the_fingerprint_so_training_reindexes(tmp_path: Path) -> None:
    folder = knowledge_with_new_article(tmp_path / "knowledge")
    before = KnowledgeRetriever.fingerprint_addon({"folder": str(folder)})
    (folder / "heat-pump.md").write_text(NEW_ARTICLE.replace("2 °C", "3 °C"), encoding="utf-8")
    assert KnowledgeRetriever.fingerprint_addon({"folder": str(folder)}) != before


def test_a_new_article_answers_after_training(tmp_path: Path) -> None:
    folder = knowledge_with_new_article(tmp_path / "knowledge")
    config = yaml.safe_load((project_root() / "config.yml").read_text(encoding="utf-8"))
    config.pop("policies")
    for component in config["pipeline"]:
        if component["name"].endswith("KnowledgeRetriever"):
            component["folder"] = str(folder)
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    command = [sys.executable, "-m", "rasa", "train", "nlu", "--config", str(tmp_path / "config.yml"),
               "--nlu", str(project_root() / "nlu_data" / "nlu"), "--out", str(tmp_path / "models"),
               "--fixed-model-name", "kb", "--quiet"]  # fmt: skip
    subprocess.run(command, cwd=tmp_path, env=child_environment(), check=True, capture_output=True)

    from rasa.core.agent import Agent

    agent = Agent.load(str(tmp_path / "models" / "kb.tar.gz"))
    parsed = asyncio.run(agent.parse_message("my heat pump's aux heat runs all the time, how do I stop that"))
    assert parsed["intent"]["name"] == KNOWLEDGE_INTENT, parsed["intent"]
    found = parsed["knowledge"]
    assert found["slug"] == "heat-pump" and found["answered"]
    assert found["url"] == "https://help.hearthlink.example/articles/heat-pump"
    assert "Aux" in found["answer"] or "auxiliary" in found["answer"]
    # A message about another business still gets no article.
    other = asyncio.run(agent.parse_message("cancel my table booking at the sushi place tonight"))
    assert other["intent"]["name"] == "out_of_scope" and not other["knowledge"]["answered"]


def run_action(parse_knowledge: dict | None) -> tuple[list[dict], list]:
    event = user("doorbell rings but the chime is silent", KNOWLEDGE_INTENT, 0.7)
    if parse_knowledge is not None:
        event["parse_data"]["knowledge"] = parse_knowledge
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionKnowledgeAnswer().run(dispatcher, tracker("kb-1", [event]), DOMAIN))
    return dispatcher.messages, events


def test_the_action_quotes_the_article_with_its_link_and_asks_whether_it_helped() -> None:
    found = {"slug": "doorbell-chime", "title": "Use the Video Doorbell with your existing chime",
             "url": "https://help.hearthlink.example/articles/doorbell-chime",
             "answer": "Turn on Chime type in the app.", "score": 0.7, "answered": True}  # fmt: skip
    messages, events = run_action(found)
    assert [m["response"] for m in messages] == ["utter_knowledge_answer", "utter_ask_knowledge_helped"]
    assert messages[0]["answer"] == found["answer"] and messages[0]["url"] == found["url"]
    assert events == []


def test_without_a_confident_article_the_action_falls_back_instead_of_guessing() -> None:
    for knowledge in (None, {"answered": False, "answer": "x", "url": "https://help.hearthlink.example/a"}):
        messages, events = run_action(knowledge)
        assert messages == []
        assert events == [{"event": "followup", "timestamp": None, "name": "action_fallback"}]
