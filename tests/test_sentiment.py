"""Rule-based sentiment and anger (bot.nlu.sentiment) and its Rasa component."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.business import load_business_settings
from bot.nlu.sentiment import Sentiment, anger_threshold, score
from tests.support.bot import write_business_file

ROOT = Path(__file__).resolve().parent.parent

# Customers a person should take over from.
ANGRY = [
    "This is RIDICULOUS, third time I'm asking!!!",
    "your service is a complete joke, absolute scam",
    "WHERE IS MY ORDER I AM SO DONE WITH YOU",
    "f*** this useless company",
    "I'm furious, nobody ever answers",
    "Worst customer service I have ever dealt with. Absolutely pathetic.",
    "I'm sick of waiting, this is unacceptable!!",
    "wtf is going on with my refund, this is a rip-off",
    "Fed up with your incompetent support. I'll be contacting my lawyer.",
    "You people are useless. I want my money back NOW!!!",
    "how many times do I have to tell you the hub is STILL NOT WORKING?!",
    "This is a scam. I will sue you if I don't get a refund.",
    "Third time the camera broke, ridiculous. Fix it or refund me!!",
    "extremely disappointed, the worst purchase I have ever made, total rip off",
    "your app is f**king garbage",
    "I'm so fed up with this pathetic company",
    "THIS IS UNACCEPTABLE. I WANT TO SPEAK TO A MANAGER",
    "Are you kidding me?! Still no refund after 3 weeks, absolutely ridiculous",
    "Incompetent idiots, you cancelled my order again",
    "What a joke. Nobody ever answers the phone.",
    "i cant believe how useless you are, wtf",
    "Thanks for nothing. Worst support ever!!",
]

# Everyday support messages, with the label they should get. None: any label but "angry".
NOT_ANGRY: list[tuple[str, str | None]] = [
    # plain requests
    ("where is my order HL-104233", "neutral"),
    ("I need to return my camera", "neutral"),
    ("cancel my subscription", "neutral"),
    ("can I talk to a human", "neutral"),
    ("the hub keeps disconnecting", "neutral"),
    ("How do I reset my router?", "neutral"),
    ("I was charged twice for order HL-104877", "neutral"),
    ("Why is my bill higher this month?", "neutral"),
    ("I ordered the wrong size, can I exchange it?", "neutral"),
    ("i need help asap my alarm keeps going off", "neutral"),
    ("Ok I'll wait, but please hurry, it's been a week", "neutral"),
    ("Is the Hearthlink Hub compatible with Alexa?", "neutral"),
    ("Hi, this is Sue from accounts, I need a copy of invoice HL-104233", "neutral"),
    ("Good morning, where is my order?", "neutral"),
    ("I forgot my password", "neutral"),
    ("WHERE IS MY ORDER", None),
    # "not" that is just a fact
    ("my internet is not working", "negative"),
    ("USB port not working on my hub", "negative"),
    ("The doorbell is not charging", "neutral"),
    ("I'm not sure which plan I'm on", "neutral"),
    ("My speaker won't turn on", "neutral"),
    ("I can't log in to the app", "neutral"),
    ("Please don't cancel my order, I still want it", "neutral"),
    ("I'm not angry, just confused about the bill", "neutral"),
    ("It didn't work, the light is still blinking red", "negative"),
    ("I'm not happy with the picture quality", "negative"),
    ("not great, the replacement is also broken", "negative"),
    # "still" and "again" without hostility
    ("my package still hasn't arrived, can you check?", "negative"),
    ("I still haven't received my refund for HL-104233", "negative"),
    ("It's still not connecting to wifi after the reset", "negative"),
    ("The camera is still not working after the update, what should I try next?", "negative"),
    ("My order HL-104233 still hasn't shipped and it's been 2 weeks now", "negative"),
    ("The delivery date says March 3, is that still correct?", "neutral"),
    ("The app says my card was declined again", "neutral"),
    ("Can you send the invoice again please?", "neutral"),
    # unhappy, not angry
    ("Hi, my thermostat is broken, the screen is blank", "negative"),
    ("My order arrived damaged, what can I do?", "negative"),
    ("Can I get a refund? The lens is scratched.", "negative"),
    ("I'm a bit frustrated, this is the second time I've contacted you about this", "negative"),
    ("Is this a scam email or is it really from you?", None),
    # happy
    ("Thanks, that worked!", "positive"),
    ("Great, thank you so much for your help!", "positive"),
    ("Perfect, that's exactly what I needed", "positive"),
    ("I love the camera but the battery drains fast", "positive"),
    ("not bad, the new firmware fixed it", "positive"),
    ("THANK YOU SO MUCH!!!", "positive"),
    ("no worries, take your time", "neutral"),
]

PLAIN_SUPPORT_QUESTIONS = [
    "where is my order HL-104233",
    "I need to return my camera",
    "my internet is not working",
    "cancel my subscription",
    "can I talk to a human",
    "the hub keeps disconnecting",
]


def test_list_sizes() -> None:
    assert len(ANGRY) >= 15
    assert len(NOT_ANGRY) >= 25


@pytest.mark.parametrize("text", ANGRY)
def test_angry(text: str) -> None:
    result = score(text)
    assert result.label == "angry", result
    assert result.anger >= anger_threshold()
    assert result.score == result.anger


@pytest.mark.parametrize(("text", "label"), NOT_ANGRY)
def test_not_angry(text: str, label: str | None) -> None:
    result = score(text)
    assert result.label != "angry", result
    assert result.anger < anger_threshold()
    if label is not None:
        assert result.label == label, result


@pytest.mark.parametrize("text", PLAIN_SUPPORT_QUESTIONS)
def test_plain_support_questions_are_calm(text: str) -> None:
    result = score(text)
    assert result.anger < 0.3, result
    assert result.label in ("neutral", "negative")


def test_whole_list_has_no_errors() -> None:
    wrong = [text for text in ANGRY if score(text).label != "angry"]
    wrong += [text for text, label in NOT_ANGRY if score(text).label != (label or score(text).label)]
    wrong += [text for text, _ in NOT_ANGRY if score(text).label == "angry"]
    assert wrong == []


# --------------------------------------------------------------------------- individual signals


def test_negation_flips_positive() -> None:
    assert score("I am happy").label == "positive"
    assert score("I am not happy").label == "negative"
    assert score("not very happy").label == "negative"
    assert score("this isn't great").label == "negative"
    assert score("this isnt great").label == "negative"  # no apostrophe


def test_not_bad_is_weakly_positive() -> None:
    result = score("not bad")
    assert result.label == "positive"
    assert result.score < 0.4
    assert score("bad").label == "negative"


def test_negated_anger_is_not_anger() -> None:
    assert score("this is not a joke").anger == 0.0
    assert score("I'm not angry").anger == 0.0
    # ... but a negator far away in the sentence does not cancel it
    assert score("I can not believe how useless this is").anger > 0.4


def test_intensifiers_strengthen() -> None:
    assert score("so ridiculous").anger > score("ridiculous").anger
    assert score("absolutely useless").anger > score("useless").anger
    assert score("extremely disappointed").score > score("disappointed").score
    assert score("very happy").score > score("happy").score


def test_shouting() -> None:
    calm, shouted = score("where is my order please"), score("WHERE IS MY ORDER PLEASE")
    assert calm.anger == 0.0
    assert shouted.anger > 0.3
    # fewer than three words of 3+ letters: no evidence either way
    assert score("WHERE IS IT").anger < score("WHERE IS MY ORDER").anger + 1e-9
    assert score("OK").anger == 0.0
    # an acronym in a normal sentence is not shouting
    assert score("my HDMI port on the TV is loose").anger == 0.0
    # a shouted insult weighs more than a quiet one
    assert score("this is RIDICULOUS").anger > score("this is ridiculous").anger


def test_exclamation_and_interrobang() -> None:
    assert score("where is my order!").anger == 0.0
    assert score("where is my order!!").anger > 0.0
    assert score("where is my order?!").anger > score("where is my order??").anger
    assert score("ridiculous!!!").anger > score("ridiculous").anger


def test_excitement_is_not_anger() -> None:
    assert score("THANK YOU SO MUCH!!!").label == "positive"
    assert score("Awesome!!! It works!!").label == "positive"


def test_repeated_complaints_add_up() -> None:
    assert score("third time I'm asking").anger > 0.2
    assert score("this is the third time I'm asking, ridiculous").anger > score("ridiculous").anger
    assert score("still not fixed").anger > score("not fixed").anger


@pytest.mark.parametrize(
    "text",
    ["f*** you", "f**k this", "f*ck off", "what the f*cking hell", "wtf", "this is sh*t", "bullshit!!!"],
)
def test_masked_and_plain_profanity(text: str) -> None:
    assert score(text).anger >= 0.5


def test_sue_the_verb_not_the_name() -> None:
    assert score("I will sue you").anger > 0.4
    assert score("Sue helped me yesterday, thanks Sue").anger == 0.0


def test_curly_apostrophes() -> None:
    assert score("I’m not happy").label == "negative"
    assert score("it doesn’t work").label == "negative"


@pytest.mark.parametrize("text", ["", "   ", "👍", "?!", "HL-104233", "😡😡😡", "x" * 10_000, "Здравствуйте"])
def test_odd_input_is_handled(text: str) -> None:
    result = score(text)
    assert result.label in ("angry", "negative", "neutral", "positive")
    assert 0.0 <= result.score <= 1.0
    assert 0.0 <= result.anger <= 1.0


def test_bounded_even_when_everything_fires() -> None:
    text = "F*** YOU USELESS INCOMPETENT SCAM RIP-OFF LIARS, THIRD TIME, WORST, SUING, WTF!!!!?!?! " * 20
    result = score(text)
    assert result.label == "angry"
    assert 0.9 < result.anger <= 1.0


def test_threshold_is_a_parameter() -> None:
    text = "this is ridiculous"
    assert score(text).label != "angry"
    assert score(text, threshold=0.3).label == "angry"


def test_the_one_threshold_is_business_yml_upset_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert anger_threshold() == load_business_settings(ROOT / "business.yml").handoff.upset_threshold == 0.6
    text = "this is ridiculous"  # anger 0.45
    assert score(text).label != "angry"
    lower = write_business_file(tmp_path / "business.yml", upset_threshold=0.4)
    monkeypatch.setenv("SUPPORTBOT_BUSINESS_FILE", str(lower))
    assert anger_threshold() == 0.4
    assert score(text).label == "angry"


def test_sentiment_is_frozen_and_serialisable() -> None:
    result = score("f*** this useless company")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.label = "neutral"  # type: ignore[misc]
    data = result.to_dict()
    assert data == {"label": result.label, "score": result.score, "anger": result.anger}
    assert json.loads(json.dumps(data)) == data
    assert Sentiment(**data) == result


def test_importing_score_does_not_import_rasa() -> None:
    code = "import sys, bot.nlu.sentiment as s; s.score('hi'); print('rasa' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "False"


# --------------------------------------------------------------------------- Rasa component


@pytest.fixture(scope="module")
def analyzer_class() -> type:
    from bot.nlu.sentiment import SentimentAnalyzer

    return SentimentAnalyzer


def _create(analyzer_class: type, tmp_path: Path, constructor: str = "create", **config: object) -> object:
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    return getattr(analyzer_class, constructor)(
        {**analyzer_class.get_default_config(), **config},
        LocalModelStorage(tmp_path),
        Resource("sentiment"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def test_component_sets_sentiment_on_every_message(analyzer_class: type, tmp_path: Path) -> None:
    from rasa.shared.nlu.training_data.message import Message

    analyzer = _create(analyzer_class, tmp_path)
    angry = Message(data={"text": "f*** this useless company"})
    calm = Message(data={"text": "where is my order HL-104233"})
    empty = Message(data={})

    processed = analyzer.process([angry, calm, empty])

    assert processed == [angry, calm, empty]
    assert angry.get("sentiment") == score("f*** this useless company").to_dict()
    assert angry.get("sentiment")["label"] == "angry"
    assert calm.get("sentiment") == {"label": "neutral", "score": 1.0, "anger": 0.0}
    assert empty.get("sentiment")["label"] == "neutral"
    # add_to_output: the value is part of the parse result Rasa returns and stores
    assert angry.as_dict_nlu()["sentiment"]["label"] == "angry"
    assert "sentiment" in angry.as_dict(only_output_properties=True)


def test_component_loads_without_a_trained_resource(analyzer_class: type, tmp_path: Path) -> None:
    """Prediction graphs construct components with ``load``; nothing was persisted for this one."""
    from rasa.shared.nlu.training_data.message import Message

    analyzer = _create(analyzer_class, tmp_path, constructor="load")
    message = Message(data={"text": "I'm furious, nobody ever answers"})
    analyzer.process([message])
    assert message.get("sentiment")["label"] == "angry"


def test_component_threshold_is_business_yml_upset_threshold(
    analyzer_class: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changing the one value changes the label, on a component that is already built."""
    from rasa.shared.nlu.training_data.message import Message

    analyzer = _create(analyzer_class, tmp_path)
    before = Message(data={"text": "this is ridiculous"})
    analyzer.process([before])
    assert before.get("sentiment")["label"] != "angry"

    lower = write_business_file(tmp_path / "business.yml", upset_threshold=0.3)
    monkeypatch.setenv("SUPPORTBOT_BUSINESS_FILE", str(lower))
    after = Message(data={"text": "this is ridiculous"})
    analyzer.process([after])
    assert after.get("sentiment")["label"] == "angry"


def test_component_refuses_a_second_threshold(analyzer_class: type, tmp_path: Path) -> None:
    from rasa.shared.exceptions import InvalidConfigException

    with pytest.raises(InvalidConfigException, match=r"handoff\.upset_threshold in business\.yml"):
        _create(analyzer_class, tmp_path, anger_threshold=0.3)


def test_component_runs_at_prediction_only(analyzer_class: type) -> None:
    """Registered as a non-trainable component: a predict node, no training node."""
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.engine.validation import validate
    from rasa.shared.data import TrainingType

    name = "bot.nlu.sentiment.SentimentAnalyzer"
    registered = DefaultV1Recipe._from_registry(name)
    assert registered.clazz is analyzer_class
    assert registered.is_trainable is False

    config = {
        "recipe": "default.v1",
        "language": "en",
        "pipeline": [{"name": "WhitespaceTokenizer"}, {"name": name}],
    }
    graph = DefaultV1Recipe().graph_config_for_recipe(config, {}, training_type=TrainingType.NLU)
    validate(graph)  # Rasa's own schema validation (type hints, constructor, needs)

    assert not [node for node in graph.train_schema.nodes.values() if node.uses is analyzer_class]
    predict = [node for node in graph.predict_schema.nodes.values() if node.uses is analyzer_class]
    assert len(predict) == 1
    assert predict[0].fn == "process"
    assert predict[0].needs == {"messages": "run_WhitespaceTokenizer0"}

    # the schema is persisted with the class path and must load back to the same class
    schema = type(graph.predict_schema).from_dict(graph.predict_schema.as_dict())
    assert any(node.uses is analyzer_class for node in schema.nodes.values())


def test_label_and_policy_share_the_one_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """business.yml handoff.upset_threshold decides both the "angry" label and the handoff."""
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.policies import UpsetCustomerPolicy

    def decide(text: str) -> tuple[bool, bool]:
        sentiment = score(text)
        intent = {"name": "complaint", "confidence": 0.9}
        parse_data = {"text": text, "intent": intent, "entities": [], "sentiment": sentiment.to_dict()}
        tracker = DialogueStateTracker.from_events(
            "maria", [ActionExecuted("action_listen"), UserUttered(text, intent, [], parse_data)]
        )
        return sentiment.label == "angry", UpsetCustomerPolicy._should_hand_off(tracker)

    assert decide("this is ridiculous") == (False, False)  # anger 0.45 < 0.6
    assert decide("f*** this useless company") == (True, True)
    monkeypatch.setenv(
        "SUPPORTBOT_BUSINESS_FILE", str(write_business_file(tmp_path / "a.yml", upset_threshold=0.4))
    )
    assert decide("this is ridiculous") == (True, True)
    strict = write_business_file(tmp_path / "b.yml", upset_threshold=0.99)
    monkeypatch.setenv("SUPPORTBOT_BUSINESS_FILE", str(strict))
    assert decide("f*** this useless company") == (False, False)


@pytest.mark.parametrize(
    ("text", "label"),
    [("😡😡😡", "angry"), ("🤬🤬", "angry"), ("this is useless 😡", "angry"), ("😠", "negative"),
     ("ok 😞", "negative"), ("👍", "positive"), ("thanks 🙏", "positive"), ("😡" * 40, "angry")],
)  # fmt: skip
def test_emoji_are_evidence_of_mood(text: str, label: str) -> None:
    result = score(text, 0.6)
    assert result.label == label, result
    assert result.anger < 0.95  # forty emoji are not more than three: bounded evidence
