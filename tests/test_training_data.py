"""The training data is valid Rasa data and rich enough to be a real support bot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from bot.evaluation import load_examples

ROOT = Path(__file__).resolve().parent.parent
UNUSED_RESPONSE = re.compile(r"The utterance '(\w+)' is not used in any story or rule")
# Intents without examples: the handoff relay sends EXTERNAL_* (Rasa "external events"), the
# help-center search sets knowledge_question (bot/nlu/knowledge_retriever.py), the language
# detector other_language (bot/nlu/language_detector.py).
EXTERNAL_INTENT = re.compile(
    r"The intent '(EXTERNAL_\w+|knowledge_question|other_language)' is listed in the domain file, "
    r"but is not found"
)
REQUIRED_INTENTS = {
    "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "out_of_scope", "human_handoff",
}  # fmt: skip


def actions_source() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "actions").glob("*.py"))


def code_source() -> str:
    """Actions and our own modules: channels and the relay send some responses themselves
    (``bot.responses.render("utter_…")``), outside a dialogue turn."""
    return actions_source() + "\n".join(p.read_text() for p in (ROOT / "bot").rglob("*.py"))


def test_rasa_data_validate_is_clean() -> None:
    """`rasa data validate` passes; its only remarks are responses our actions utter."""
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "data", "validate",
         "--data", "nlu_data", "--domain", "domain.yml", "--config", "config.yml"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    source = code_source()
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    form_prompts = {
        prompt
        for name, form in domain["forms"].items()
        for slot in form["required_slots"]
        for prompt in (f"utter_ask_{slot}", f"utter_ask_{name}_{slot}")  # Rasa asks with either
    }
    rasa_warnings = [
        line for line in output.splitlines() if "rasa/shared/utils/io.py" in line and "Warning" in line
    ]
    unexplained = []
    for line in rasa_warnings:
        if EXTERNAL_INTENT.search(line):
            continue
        unused = UNUSED_RESPONSE.search(line)
        if unused and (f'"{unused.group(1)}"' in source or unused.group(1) in form_prompts):
            continue  # uttered by a custom action, a form or our code, which the validator cannot see
        unexplained.append(line)
    assert not unexplained, "\n".join(unexplained)


def test_at_least_30_intents_with_20_varied_examples_each() -> None:
    examples = load_examples()
    per_intent: dict[str, list[str]] = {}
    for example in examples:
        per_intent.setdefault(example.intent, []).append(example.plain_text.lower())
    assert len(per_intent) >= 30
    assert set(per_intent) >= REQUIRED_INTENTS
    for intent, texts in per_intent.items():
        assert len(set(texts)) >= 20, f"{intent} has only {len(set(texts))} distinct examples"
    all_texts = [e.plain_text.lower() for e in examples]
    assert len(all_texts) == len(set(all_texts)), "the same example appears under two intents"


def test_domain_and_data_agree_on_intents_and_entities() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    examples = load_examples()
    external = {intent for intent in domain["intents"] if intent.startswith("EXTERNAL_")}
    assert external == {"EXTERNAL_handoff_resolved", "EXTERNAL_handoff_unanswered"}  # sent by the relay
    set_by_components = {"knowledge_question", "other_language"}
    assert set(domain["intents"]) - external - set_by_components == {e.intent for e in examples}
    annotated = {m for e in examples for m in re.findall(r"\]\((\w+)\)", e.text)}
    # (entities language and also_asked come from NLU components, never from annotations;
    # an entry is a name, or {name: options} for one kept out of the dialogue state)
    entities = {e if isinstance(e, str) else next(iter(e)) for e in domain["entities"]}
    # (return_item and return_reason come from the return form's buttons only)
    annotatable = entities - {"language", "also_asked", "return_item", "return_reason"}
    assert annotated == annotatable == {"order_number", "email", "device_model", "date"}


def test_every_response_an_action_utters_exists() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    uttered = set(re.findall(r'response="(utter_\w+)"', actions_source()))
    uttered |= set(re.findall(r'FollowupAction\("(utter_\w+)"\)', actions_source()))
    assert uttered, "no responses found in actions/"
    assert uttered <= set(domain["responses"]), uttered - set(domain["responses"])
