"""Learning from what the bot missed: review-misses groups the missed questions, review-accept writes data.

The grouping, the suggestions and the writers are tested on their own with hand-made vectors
(no encoder). The commands run end to end on a copy of the project with a real SQLite tracker
store (our IncrementalSQLTrackerStore, Rasa's rows) and a real handoff store: two topics
the bot missed (one handed off and answered by an agent), conversations it understood, and
an old one outside the window. What accepting writes is checked by `rasa data validate` and by
the knowledge loader; names and texts written to attack the files cannot escape or break them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.cli import main
from bot.db import Database
from bot.experience.digest import digest_text
from bot.handoff.models import Handoff
from bot.handoff.store import HandoffStore
from bot.knowledge.articles import load_articles, passages
from bot.migrations import upgrade
from bot.review import accept, clustering, suggestions
from bot.review.digest import reviews_folder, top_clusters
from bot.review.review_file import ReviewFileError, cluster_of, load_review
from bot.tracker_store import IncrementalSQLTrackerStore
from tests.support import ROOT

GIFT = [  # a topic the bot has no intent for
    "can you gift wrap my order",
    "do you offer gift wrapping?",
    "is gift wrapping available for presents",
    "can you gift wrap order HL-104233 and send the receipt to jo.doe@example.com",
    "i'd like it wrapped as a gift please",
]
KLARNA = [  # close to payment_methods; handed off, and people answered
    "can i pay with klarna",
    "do you accept klarna or afterpay",
    "is buy now pay later available with klarna",
    "can I split the payment into 3 with klarna",
]
ANSWER = (
    "Yes: at checkout choose Klarna and you can pay in 3 interest-free instalments; the first is "
    "taken when the order ships."
)
UNDERSTOOD = ["where is my order", "how do I reset my password", "what are your opening hours"]
OLD = "can you engrave my smart plug"  # 40 days ago: outside --since 30
SECRET_EMAIL, SECRET_ORDER = "jo.doe@example.com", "HL-104233"


# --------------------------------------------------------------------------- pure parts


def test_clustering_groups_by_direction_biggest_first_central_first() -> None:
    rng = np.random.default_rng(3)
    north, east = np.eye(8)[0], np.eye(8)[1]
    rows = [north + 0.15 * rng.standard_normal(8) for _ in range(4)]
    rows += [east + 0.15 * rng.standard_normal(8) for _ in range(3)]
    rows += [north]  # the most central of the first topic
    rows += [np.eye(8)[5]]  # like no other
    groups = clustering.cluster(np.array(rows))
    assert [group.size for group in groups] == [5, 3, 1]
    assert set(groups[0].members) == {0, 1, 2, 3, 7} and groups[0].members[0] == 7
    assert set(groups[1].members) == {4, 5, 6} and groups[2].members == (8,)
    assert np.isclose(np.linalg.norm(groups[0].centroid), 1.0)
    assert clustering.cluster(np.zeros((0, 8))) == []
    assert [g.members for g in clustering.cluster(np.array([east]))] == [(0,)]
    # A tighter threshold splits what a loose one joins.
    assert len(clustering.cluster(np.array(rows), distance=0.01)) == len(rows)


def test_a_group_near_an_intents_examples_extends_it_otherwise_gets_a_new_name() -> None:
    examples = clustering.unit_rows(np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.9, 0.4]]))
    labels = ["payment_methods", "payment_methods", "order_status", "order_status"]
    near = clustering.unit_rows(np.array([[1, 0.05, 0], [0.95, 0.1, 0.05]]))
    matches = suggestions.intent_matches(near, examples, labels)
    assert matches[0].intent == "payment_methods" and matches[0].similarity > 0.95
    assert suggestions.extends(matches) == matches[0]
    far = clustering.unit_rows(np.array([[0, 0, 1], [0.1, 0, 1]]))
    assert suggestions.extends(suggestions.intent_matches(far, examples, labels)) is None
    words = suggestions.distinctive_words(GIFT, [*GIFT, *KLARNA])
    assert {"gift", "wrap"} & set(words) and "order" not in words  # placeholders' words are no names
    assert suggestions.intent_name(["gift", "wrapping"], {"gift_wrapping"}) == "gift_wrapping_2"
    assert suggestions.intent_name([], set()) == "new_topic"
    assert suggestions.intent_name(["3d", "print"], set()) == "about_3d_print"
    assert suggestions.article_slug(["gift", "wrapping"], {"gift-wrapping"}) == "gift-wrapping-2"
    assert suggestions.answers(["On it!", ANSWER, ANSWER, "Thanks for waiting, I am checking that now"]) == [
        ANSWER, "Thanks for waiting, I am checking that now",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "x/../../y", "Gift", "gift wrapping", "nlu_fallback", "external_x", "a", ""]
)
def test_bad_intent_names_are_refused_before_any_path_is_built(name: str, tmp_path: Path) -> None:
    (tmp_path / "nlu_data" / "nlu").mkdir(parents=True)
    with pytest.raises(accept.AcceptError, match="not a usable intent name"):
        accept.accept_intent(tmp_path, {"cluster": 1, "examples": ["hello there"]}, name, "test")
    assert not list(tmp_path.rglob("learned_*"))
    assert not (tmp_path.parent / "etc").exists()


@pytest.mark.parametrize("slug", ["../../etc/passwd", "a/b", "Readme", "readme", "x" * 61, "-x", "a--b", ""])
def test_bad_article_slugs_are_refused(slug: str, tmp_path: Path) -> None:
    with pytest.raises(accept.AcceptError, match="not a usable article slug"):
        accept.accept_article(tmp_path, {"cluster": 1, "article": {"answers": [ANSWER]}}, slug)
    assert not list(tmp_path.rglob("*.md"))


def test_customer_text_stays_data_in_the_nlu_file_and_the_article() -> None:
    attacks = [
        "- intent: x\n  examples: |\n    - pwned",
        'nice"\nnlu:\n- intent: injected',
        'where is [my order](order_number){"entity": "email"}',
        "#comment\ttab\rreturn\x00null\u2028line",
        "   ",
    ]
    examples, _ = accept.training_examples({"examples": attacks}, known=[])
    text = accept.nlu_yaml("gift_wrapping", examples, "source\n- intent: from_the_source")
    document = yaml.safe_load(text)
    assert [block["intent"] for block in document["nlu"]] == ["gift_wrapping"]
    lines = str(document["nlu"][0]["examples"]).splitlines()
    assert len(lines) == 4 and all(line.startswith("- ") for line in lines)
    assert not any(ch in text for ch in "[]{}\x00\r\t\u2028")  # no entity markup, one line each
    assert "intent: x examples: | - pwned" in text  # the words stay, as one example

    article = {
        "title": "Pay later?\n---\nurl: https://evil.example",
        "tags": ["pay later!", "../x"],
        "questions": ["---", "q\n## Section"],
        "answers": ["## Heading\n---\nreal answer", "> quote"],
    }
    markdown = accept.article_markdown(article, "pay-later", accept.DEFAULT_URL_BASE)
    front = yaml.safe_load(markdown.split("\n---\n")[0].removeprefix("---\n"))
    assert front["url"] == "https://help.hearthlink.example/articles/pay-later"
    assert front["tags"] == ["paylater", "x"] and front["questions"] == ["---", "q ## Section"]
    body = markdown.split("\n---\n", 1)[1]
    assert body.splitlines()[0] == "Heading --- real answer"  # not a section, not front matter
    assert "- quote" in body and "\n> " not in body


def test_a_new_intent_is_added_to_the_domain_keeping_its_comments() -> None:
    original = (ROOT / "domain.yml").read_text(encoding="utf-8")
    changed = accept.domain_with_intent(original, "gift_wrapping")
    assert changed is not None and accept.domain_with_intent(changed, "gift_wrapping") is None
    before, after = yaml.safe_load(original), yaml.safe_load(changed)
    assert after["intents"] == [*before["intents"], "gift_wrapping"]
    assert {**after, "intents": before["intents"]} == before
    assert original.count("\n#") == changed.count("\n#") and accept.LEARNED_COMMENT in changed
    assert accept.domain_with_intent(original, "order_status") is None  # extending: no change
    with pytest.raises(accept.AcceptError, match="add the line"):
        accept.domain_with_intent("intents: [greet, bye]\n", "gift_wrapping")


# --------------------------------------------------------------------------- the stores


def _turn(stamp: float, text: str, intent: str, confidence: float = 0.3) -> list[Event]:
    parse = {"intent": {"name": intent, "confidence": confidence}, "entities": [], "text": text}
    return [
        UserUttered(text, parse["intent"], [], parse, timestamp=stamp, input_channel="rest"),
        ActionExecuted("utter_default", timestamp=stamp + 1),
        BotUttered("Sorry, I'm not sure I understood.", timestamp=stamp + 1),
        ActionExecuted("action_listen", timestamp=stamp + 1),
    ]


def _session(stamp: float) -> list[Event]:
    return [
        ActionExecuted("action_session_start", timestamp=stamp),
        SessionStarted(timestamp=stamp),
        ActionExecuted("action_listen", timestamp=stamp),
    ]


def _agent(stamp: float, handoff_id: int, text: str) -> Event:
    metadata = {"handoff_id": handoff_id, "agent_id": "U07", "agent_name": "Sam", "desk": "inbox"}
    return BotUttered(text, metadata=metadata, timestamp=stamp)


def _save(store: IncrementalSQLTrackerStore, domain: Domain, sender: str, events: list[Event]) -> None:
    asyncio.run(store.save(DialogueStateTracker.from_events(sender, events, domain.slots)))


def _handoff(url: str, sender: str, opened: datetime) -> int:
    """A handoff claimed and resolved by an agent, with its times moved to ``opened``."""
    store = HandoffStore(Database(url))
    record, _ = store.open_handoff(
        conversation_id=sender, channel="rest", customer_id=None, reason="the customer asked for a person",
        packet={}, relay_after=opened.timestamp(),
    )  # fmt: skip
    store.claim(record.id, "U07", "Sam")
    store.resolve(record.id, "Sam")
    with Database(url).session() as session:
        row = session.get(Handoff, record.id)
        naive = opened.astimezone(UTC).replace(tzinfo=None)
        row.created_at, row.queued_at = naive, naive
        row.claimed_at, row.resolved_at = naive + timedelta(seconds=30), naive + timedelta(minutes=10)
    return record.id


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A copy of the project with seeded stores, and the environment that points the commands at it."""
    root = tmp_path_factory.mktemp("project")
    for name in ("domain.yml", "config.yml", "business.yml", "endpoints.yml", "saved_replies.yml"):
        shutil.copy(ROOT / name, root / name)
    for folder in ("nlu_data", "knowledge"):
        shutil.copytree(ROOT / folder, root / folder)
    data = root / ".data"
    data.mkdir()
    url = f"sqlite:///{root / 'customers.db'}"
    upgrade(url)
    env = {
        "SUPPORTBOT_PROJECT_ROOT": str(root),
        "SUPPORTBOT_DATA_DIR": str(data),
        "SUPPORTBOT_DATABASE_URL": url,
        "SUPPORTBOT_CACHE_DIR": str(root / "cache"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        domain = Domain.load(str(root / "domain.yml"))
        store = IncrementalSQLTrackerStore(domain, dialect="sqlite", db=str(data / "tracker.db"))
        now = datetime.now(UTC)
        start = (now - timedelta(hours=6)).timestamp()
        for n, text in enumerate(GIFT):  # missed: not understood, or taken as not ours
            stamp = start + 600 * n
            turns = [*_turn(stamp + 5, "hi", "greet", 0.99)] if n == 0 else []  # small talk first
            intent = "out_of_scope" if n == 1 else "nlu_fallback"
            _save(store, domain, f"gift-{n}", _session(stamp) + turns + _turn(stamp + 10, text, intent))
        for n, text in enumerate(KLARNA):  # handed off; an agent answered and resolved it
            stamp = start + 7200 + 600 * n
            handoff = _handoff(url, f"klarna-{n}", datetime.fromtimestamp(stamp + 20, UTC))
            events = _session(stamp) + _turn(stamp + 5, text, "nlu_fallback")
            events += [
                _agent(stamp + 40, handoff, "Sam from our support team has joined the conversation."),
                _agent(stamp + 60, handoff, ANSWER),
            ]
            _save(store, domain, f"klarna-{n}", events)
        for n, text in enumerate(UNDERSTOOD):
            stamp = start + 14400 + 60 * n
            _save(store, domain, f"fine-{n}", _session(stamp) + _turn(stamp + 5, text, "order_status", 0.95))
        old = (now - timedelta(days=40)).timestamp()
        _save(store, domain, "old-0", _session(old) + _turn(old + 5, OLD, "nlu_fallback"))
    return {"root": root, "data": data, "url": url, "env": env}


@pytest.fixture(scope="module")
def review(project: dict[str, Any]) -> dict[str, Any]:
    """``python -m bot review-misses --since 30`` run once (it loads the encoder)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in project["env"].items():
            patch.setenv(name, value)
        assert main(["review-misses", "--since", "30"]) == 0
    (path,) = sorted(reviews_folder(project["data"]).glob("misses-*.yml"))
    return {"path": path, "text": path.read_text(encoding="utf-8"), "document": load_review(path)}


def _by_topic(document: dict[str, Any], word: str) -> dict[str, Any]:
    (found,) = [c for c in document["clusters"] if any(word in e.lower() for e in c["examples"])]
    return found


def test_the_review_groups_the_missed_first_messages_and_suggests(review: dict[str, Any]) -> None:
    document = review["document"]
    assert document["conversations"] == len(GIFT) + len(KLARNA) + len(UNDERSTOOD)  # the old one is outside
    assert document["missed"] == len(GIFT) + len(KLARNA)
    assert [c["size"] for c in document["clusters"]] == [5, 4] and document["ungrouped"] == []
    gift, klarna = _by_topic(document, "gift"), _by_topic(document, "klarna")
    assert gift["suggestion"]["action"] == "new_intent" and "gift" in gift["suggestion"]["intent"]
    assert gift["suggestion"]["intent"].replace("_", "").isalnum() and "article" not in gift
    assert (gift["handed_off"], klarna["handed_off"], klarna["resolved_by_agents"]) == (0, 4, 4)
    assert klarna["suggestion"]["action"] == "extend_intent"
    assert klarna["suggestion"]["intent"] == "payment_methods"
    assert klarna["article"]["answers"] == [ANSWER]  # "Sam … has joined" is the relay's notice, not an answer
    assert klarna["article"]["slug"].replace("-", "").isalnum() and "klarna" in klarna["article"]["slug"]
    assert f"--cluster {klarna['cluster']} --as-article" in klarna["article"]["accept"]


def test_the_review_holds_no_personal_data_nor_what_the_bot_understood(review: dict[str, Any]) -> None:
    text = review["text"]
    assert SECRET_EMAIL not in text and SECRET_ORDER not in text
    assert "[order number]" in text and "[email]" in text  # the question's shape is kept
    for understood in [*UNDERSTOOD, OLD, "hi"]:
        assert f"'{understood}'" not in text and f"- {understood}\n" not in text


def test_accepting_a_group_as_a_new_intent_writes_data_rasa_validates(
    review: dict[str, Any], project: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    for name, value in project["env"].items():
        monkeypatch.setenv(name, value)
    root, path = project["root"], review["path"]
    number = str(_by_topic(review["document"], "gift")["cluster"])
    assert main(["review-accept", str(path), "--cluster", number, "--as-intent", "gift_wrapping"]) == 0
    written = root / "nlu_data" / "nlu" / "learned_gift_wrapping.yml"
    block = yaml.safe_load(written.read_text(encoding="utf-8"))["nlu"][0]
    examples = [line[2:] for line in block["examples"].splitlines()]
    assert block["intent"] == "gift_wrapping" and len(examples) == len(GIFT)
    assert "can you gift wrap order order number and send the receipt to email" in examples
    assert "gift_wrapping" in yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8"))["intents"]
    assert "utter_gift_wrapping" in capsys.readouterr().out  # what to add so it gets an answer
    # Never overwritten; other names and numbers are refused with the fix.
    assert main(["review-accept", str(path), "--cluster", number, "--as-intent", "gift_wrapping"]) == 1
    assert "exists already" in capsys.readouterr().err
    assert main(["review-accept", str(path), "--cluster", "99", "--as-intent", "x_y"]) == 1
    assert "there is no cluster 99" in capsys.readouterr().err
    assert main(["review-accept", str(path), "--cluster", number, "--as-intent", "../../etc/passwd"]) == 1
    assert main(["review-accept", str(path), "--cluster", number, "--as-article", "../../etc/passwd"]) == 1
    assert not (root / "etc").exists() and not (root.parent / "etc").exists()

    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "rasa"), "data", "validate", "--domain", "domain.yml",
         "--data", "nlu_data", "--config", "config.yml"],
        cwd=root, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, **project["env"]},
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    about = [line for line in output.splitlines() if "gift_wrapping" in line]
    assert all("not used in any story or rule" in line for line in about), about  # the rule is the lead's


def test_accepting_the_article_draft_writes_an_article_the_loader_reads(
    review: dict[str, Any], project: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in project["env"].items():
        monkeypatch.setenv(name, value)
    path, knowledge = review["path"], project["root"] / "knowledge"
    klarna = _by_topic(review["document"], "klarna")
    number = str(klarna["cluster"])
    assert main(["review-accept", str(path), "--cluster", number, "--as-article", "pay-later-klarna"]) == 0
    (article,) = [a for a in load_articles(knowledge) if a.slug == "pay-later-klarna"]
    assert article.url == "https://help.hearthlink.example/articles/pay-later-klarna"
    assert article.summary == ANSWER and set(article.questions) == set(klarna["examples"])
    assert [p.text for p in passages(article)] == [ANSWER]
    assert main(["review-accept", str(path), "--cluster", number, "--as-article", "pay-later-klarna"]) == 1
    gift = str(_by_topic(review["document"], "gift")["cluster"])
    assert main(["review-accept", str(path), "--cluster", gift, "--as-article", "gift-wrap"]) == 1  # no draft


def test_the_digest_lists_the_newest_reviews_top_groups(
    review: dict[str, Any], project: dict[str, Any]
) -> None:
    groups = top_clusters(reviews_folder(project["data"]))
    assert [c["size"] for c in groups["clusters"]] == [5, 4] and groups["generated_at"]
    report = {"period": {}, "figures": {}, "miss_clusters": groups}
    section = digest_text(report).split("*Groups of missed questions*")[1].split("\n\n")[0]
    assert "5× like" in section and "extend payment_methods" in section
    assert SECRET_ORDER not in section and SECRET_EMAIL not in section
    empty = digest_text({"miss_clusters": top_clusters(project["root"] / "nowhere")})
    assert "no review yet: run python -m bot review-misses" in empty
    assert "Groups of missed questions" not in digest_text({})  # a report without the key: as before


def test_a_missing_or_empty_store_says_which_setting_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'customers.db'}"
    upgrade(url)
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", url)
    monkeypatch.setenv("SUPPORTBOT_DATA_DIR", str(tmp_path / "data"))
    assert main(["review-misses"]) == 1
    error = capsys.readouterr().err
    assert "tracker.db" in error and "does not exist" in error and "SUPPORTBOT_DATA_DIR" in error
    assert not (tmp_path / "data" / "tracker.db").exists()  # not created empty by looking
    domain = Domain.load(str(ROOT / "domain.yml"))
    store = IncrementalSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "data" / "tracker.db"))
    old = (datetime.now(UTC) - timedelta(days=60)).timestamp()
    _save(store, domain, "old", _session(old) + _turn(old + 5, OLD, "nlu_fallback"))
    assert main(["review-misses", "--since", "7"]) == 1
    assert "no conversations started in the last 7 days" in capsys.readouterr().err
    assert main(["review-misses", "--since", "0"]) == 2


def test_a_broken_review_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "misses.yml"
    for text in (
        "version: 1\nclusters: nope\n",
        "[1, 2",
        "version: 7\n",
        "version: 1\nclusters:\n- cluster: x\n",
    ):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ReviewFileError, match="review-misses"):
            load_review(path)
    path.write_text("version: 1\nclusters:\n- {cluster: 1, size: 2, examples: [a, b]}\n", encoding="utf-8")
    assert cluster_of(load_review(path), 1, path)["examples"] == ["a", "b"]
    with pytest.raises(ReviewFileError, match="no such review file"):
        load_review(tmp_path / "gone.yml")
