"""Rule-based sentiment and anger of short customer-support messages.

Why rules and not a model: the question we need answered is narrow — "is this customer
angry enough that a person should take over?" — and the answer must be explainable to a
support lead and adjustable without retraining. Support chats are short and formulaic; a
small lexicon with weights, negation, intensifiers, shouting and exclamation marks gets the
clear cases right, and a wrong answer costs little (an agent sees the card a bit earlier).

Most support messages are complaints about *things* ("my internet is not working", "my
refund still hasn't arrived"): they are negative but not angry. Anger needs evidence aimed
at us — insults, threats, profanity, "third time I'm asking", shouting — so a plain
"not" or "still" never makes a message angry on its own.

Scoring: every signal found is a piece of evidence with a strength in [0, 1]; evidence of
one kind is combined as ``1 - Π(1 - w)`` (independent pieces of evidence, bounded, order
does not matter). :func:`score` is pure and needs only the standard library; the Rasa
component :class:`SentimentAnalyzer` is built on first access so that ``score`` imports in
milliseconds (importing Rasa takes seconds because of TensorFlow).

One anger threshold: a message is labelled "angry" exactly when its anger reaches
``handoff.upset_threshold`` in business.yml, the value at which UpsetCustomerPolicy and the
handoff action bring in a person. So the mood an agent sees on the card ("angry") and the
reason the bot handed off cannot disagree, and a support lead tunes both in one place,
without retraining (the component reads the value when it scores, not when it is trained).
"""

import math
import re
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["Sentiment", "anger_threshold", "score"]  # and SentimentAnalyzer, built on first access

POLARITY_THRESHOLD = 0.25  # weaker negative/positive evidence than this counts as neutral

INTENSIFY = 1.35  # "so / very / absolutely <term>"
SHOUTED = 1.3  # the term itself is in capitals: "RIDICULOUS"
NEGATED_POSITIVE = 0.8  # "not happy" keeps most of the strength, as negative
MAX_WEIGHT = 0.95


@dataclass(frozen=True)
class Sentiment:
    """Result of :func:`score`."""

    label: str  # "angry" | "negative" | "neutral" | "positive"
    score: float  # 0..1 strength of the label
    anger: float  # 0..1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored on the parsed message under ``sentiment``."""
        return {"label": self.label, "score": self.score, "anger": self.anger}


# --------------------------------------------------------------------------- lexicons
# Keys are regular expressions over lower-cased text with "n't" expanded to " not"; they are
# matched as whole words. Values are evidence strengths.

# Hostility aimed at us: counts as anger and as negative sentiment.
ANGER_TERMS: dict[str, float] = {
    r"furious|livid|fuming|outraged": 0.6,
    r"f+u+c+k+\w*|fck\w*|effing|f[*#@$%!]+(?:c?k\w*|in[g']?)?": 0.55,  # incl. masked "f***", "f*cking"
    r"assholes?|bastards?|dickheads?|a[*#]+holes?": 0.55,
    r"sh[i1]t+\w*|bullsh[i1]t|s[*#@$%!]+t|sh[*#@$%!]+t?": 0.5,
    r"wtf|stfu|ffs|gtfo|omfg": 0.5,
    r"scam(?:s|med|mers?)?|fraud(?:ulent|sters?)?": 0.5,
    r"incompeten(?:t|ce)|pathetic": 0.5,
    r"rip[- ]?off|ripping (?:me|us|people) off": 0.5,
    r"liars?|lying|lied to (?:me|us)|thie(?:f|ves)|stole|stealing|daylight robbery": 0.5,
    r"idiots?|morons?|clowns|imbeciles": 0.5,
    r"pissed(?: off)?|angry|disgrace(?:ful)?|disgust(?:ing|ed)|shameful|shame on you": 0.5,
    r"ridiculous(?:ly)?|useless|unacceptable|not acceptable": 0.45,
    r"sick (?:and tired )?of|fed up|had enough|(?:so|completely|totally) done|done with (?:you|your)\b": 0.45,
    r"(?:i'?ll|will|gonna|going to) sue|sue (?:you|your|them)|suing": 0.45,  # not "Sue from accounts"
    r"thanks for nothing": 0.45,
    r"worst|outrageous|absurd|insane": 0.4,
    r"joke|farce|shambles": 0.4,
    r"lawyers?|attorneys?|legal action|small claims|trading standards|chargeback": 0.4,
    r"are you (?:kidding|serious|joking)|you(?:'re| are) (?:kidding|joking)": 0.4,
    r"stupid|hate|garbage|trash|rubbish|waste of (?:time|money)|never (?:again|buying|ordering)": 0.35,
    r"terrible|horrible|awful|appalling|atrocious|dreadful|unbelievable|can not believe": 0.3,
    r"you people": 0.3,
    r"damn\w*|goddamn\w*|crap\w*|bloody|(?:what|the) hell": 0.3,
}

# Repeated contact and waiting: the classic escalation path. Counts as anger and negative.
REPEAT_TERMS: dict[str, float] = {
    r"how many (?:more )?times": 0.4,
    r"(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) time": 0.3,
    r"(?:\d+|several|multiple|many|countless|so many) times|over and over|again and again": 0.3,
    r"(?:yet|once) again": 0.3,
    r"(?:nobody|no one|no-one) (?:ever )?(?:answers|replies|responds|gets back|calls|helps|cares)": 0.3,
    r"keep (?:asking|telling|calling|chasing|emailing)": 0.3,
    r"still (?:not|no|nothing|have not|has not|had not|waiting)": 0.25,
    r"every (?:single )?time|after \d+ (?:days|weeks|months)|(?:days|weeks|months) (?:now|already)": 0.2,
    r"again": 0.15,
}

# Something is wrong, but nothing says the customer is angry with us.
NEGATIVE_TERMS: dict[str, float] = {
    r"disappoint(?:ed|ing|ment)|unhappy|dissatisfied|upset": 0.45,
    r"annoy(?:ed|ing)|irritat(?:ed|ing)|frustrat(?:ed|ing|ion)": 0.4,
    r"not (?:\w+ )?work(?:s|ing|ed)?|stopped working|nothing works": 0.35,
    r"broken|broke|faulty|defective|damaged|cracked|scratched|bad|poor": 0.35,
    r"unfortunately|sadly": 0.25,
    r"still": 0.2,
}

POSITIVE_TERMS: dict[str, float] = {
    r"great|excellent|amazing|fantastic|wonderful|brilliant|awesome|superb|perfect": 0.5,
    r"love(?:ly)?|happy|glad|pleased|satisfied|helpful": 0.45,
    r"thanks?|thank you|thx|cheers|appreciated?": 0.4,
    r"(?:that|this) (?:fixed|solved|sorted) it|fixed it|works now|working now": 0.4,
    r"not (?:too |that |so )?bad": 0.3,  # weakly positive; "bad" itself is negated away
    r"good(?! (?:morning|afternoon|evening|night|day))|nice|cool": 0.3,
}

# Emoji, counted per occurrence (each one more piece of evidence, at most three of a kind):
# "😡😡😡" is as angry as "furious" said twice, a lone "😡" is negative but not yet angry.
# Why here and not in the intent classifier: "😡😡😡" parsed as affirm (0.95); anger must reach
# UpsetCustomerPolicy whatever intent the symbols land on.
ANGER_EMOJI: dict[str, float] = {"🤬": 0.6, "🖕": 0.6, "😡": 0.5, "😠": 0.45, "👿": 0.4, "💢": 0.4}
NEGATIVE_EMOJI: dict[str, float] = {
    e: 0.35 for e in ("😞", "😢", "😭", "👎", "😤", "🙁", "☹", "😩", "😫", "😒")
}
POSITIVE_EMOJI: dict[str, float] = {
    e: 0.4 for e in ("👍", "🙂", "😊", "😀", "😃", "😄", "❤", "🙏", "👌", "🎉", "😍")
}
MAX_EMOJI_EVIDENCE = 3

# Words before a term that negate it / make it stronger (looked up in the same clause).
NEGATORS = frozenset({"not", "never", "hardly", "barely", "without"})
# A negator reaches its term across these only: "not very happy", "is not that great", "not a
# scam" are negated; "can not believe how useless" is not.
TRANSPARENT = frozenset(
    {
        "a", "an", "the", "that", "this", "very", "so", "too", "really", "quite", "exactly", "all",
        "at", "be", "been", "being", "feel", "feeling", "even", "particularly", "overly", "super", "any",
    }
)  # fmt: skip
INTENSIFIERS = frozenset(
    {
        "so", "very", "extremely", "absolutely", "really", "totally", "completely", "complete",
        "absolute", "utterly", "utter", "total", "incredibly", "beyond", "such", "truly",
    }
)  # fmt: skip
INTENSIFYING_PAIRS = frozenset({("what", "a"), ("what", "an")})  # "what a joke"


def _compile(table: dict[str, float]) -> list[tuple[re.Pattern[str], float]]:
    # Whole words, where "*" counts as part of a word ("f***" must not match as "f").
    return [(re.compile(rf"(?<![\w*])(?:{pattern})(?![\w*])"), weight) for pattern, weight in table.items()]


_ANGER = _compile(ANGER_TERMS)
_REPEAT = _compile(REPEAT_TERMS)
_NEGATIVE = _compile(NEGATIVE_TERMS)
_POSITIVE = _compile(POSITIVE_TERMS)

_CONTRACTION = re.compile(r"n't\b")
_BARE_CONTRACTION = re.compile(  # social media drops the apostrophe: "doesnt", "cant", "wont"
    r"\b(do|does|did|is|are|was|were|has|have|had|could|would|should|wo|ca|ai)nt\b"
)
_CLAUSE_BREAK = re.compile(r"[.!?;,:\n]+|\bbut\b")
_WORD = re.compile(r"[a-z*'#@$%]+")
_LETTERS = re.compile(r"[A-Za-z]+")
_PUNCTUATION_RUN = re.compile(r"[!?]{2,}")


def _normalise(text: str) -> str:
    """Lower-case, straight apostrophes, "doesn't"/"doesnt" -> "does not", "cannot" -> "can not"."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").lower()
    text = re.sub(r"\bcannot\b", "can not", text)
    # "won't" -> "wo not", "can't" -> "ca not": odd words, but the "not" is what matters.
    return _BARE_CONTRACTION.sub(r"\1 not", _CONTRACTION.sub(" not", text))


def _emoji(text: str, table: dict[str, float]) -> list[float]:
    """One weight per occurrence of the table's emoji (at most ``MAX_EMOJI_EVIDENCE`` of each)."""
    return [w for emoji, w in table.items() for _ in range(min(text.count(emoji), MAX_EMOJI_EVIDENCE))]


def _combine(weights: list[float]) -> float:
    """Independent pieces of evidence: 1 - Π(1 - w)."""
    return 1.0 - math.prod(1.0 - w for w in weights)


def _context(normalised: str, start: int) -> list[str]:
    """The (up to three) words before ``start`` in the same clause."""
    clause = _CLAUSE_BREAK.split(normalised[:start])[-1]
    return _WORD.findall(clause)[-3:]


def _negated(before: list[str]) -> bool:
    for word in reversed(before):
        if word in NEGATORS:
            return True
        if word not in TRANSPARENT:
            return False
    return False


def _weighted(
    normalised: str, shouted: set[str], table: list[tuple[re.Pattern[str], float]]
) -> list[tuple[float, bool]]:
    """(weight, negated) for every match of ``table``, with intensifier and capitals applied."""
    found = []
    for pattern, weight in table:
        for match in pattern.finditer(normalised):
            before = _context(normalised, match.start())
            if any(word in INTENSIFIERS for word in before[-2:]) or tuple(before[-2:]) in INTENSIFYING_PAIRS:
                weight_here = weight * INTENSIFY
            else:
                weight_here = weight
            if any(word in shouted for word in _LETTERS.findall(match.group(0))):
                weight_here *= SHOUTED
            negated = _negated(before)
            found.append((min(weight_here, MAX_WEIGHT), negated))
    return found


def _shouting(text: str) -> float:
    """Evidence from ALL-CAPS: share of capitalised words among words of 3+ letters (3+ needed)."""
    words = [word for word in _LETTERS.findall(text) if len(word) >= 3]
    if len(words) < 3:
        return 0.0
    ratio = sum(word.isupper() for word in words) / len(words)
    return 0.5 * max(0.0, (ratio - 0.3) / 0.7)


def _punctuation(text: str) -> float:
    """Evidence from "!!", "?!" and "??" runs (a single "!" is just friendly)."""
    strongest = 0.0
    for run in _PUNCTUATION_RUN.findall(text):
        if "!" in run and "?" in run:
            strength = 0.25
        elif "!" in run:
            strength = min(0.3, 0.1 + 0.05 * len(run))
        else:
            strength = 0.1
        strongest = max(strongest, strength)
    return strongest


def anger_threshold() -> float:
    """The one anger threshold: ``handoff.upset_threshold`` in the business.yml in use."""
    from bot.business import load_business_settings  # parsed once per file

    return load_business_settings().handoff.upset_threshold


def score(text: str, threshold: float | None = None) -> Sentiment:
    """Sentiment label, its strength and the anger of one customer message.

    ``threshold`` (anger at or above it is "angry") defaults to :func:`anger_threshold`;
    given explicitly, the function is pure.
    """
    threshold = anger_threshold() if threshold is None else threshold
    normalised = _normalise(text or "")
    shouted = {word.lower() for word in _LETTERS.findall(text or "") if len(word) >= 3 and word.isupper()}

    anger: list[float] = []
    negative: list[float] = []
    positive: list[float] = []
    for weight, negated in _weighted(normalised, shouted, _ANGER) + _weighted(normalised, shouted, _REPEAT):
        if not negated:  # "this is not a joke", "I'm not angry"
            anger.append(weight)
            negative.append(weight)
    for weight, negated in _weighted(normalised, shouted, _NEGATIVE):
        if not negated:  # "not broken"; "not bad" is a positive term of its own
            negative.append(weight)
    for weight, negated in _weighted(normalised, shouted, _POSITIVE):
        if negated:  # "not happy", "not great"
            negative.append(weight * NEGATED_POSITIVE)
        else:
            positive.append(weight)

    angry_emoji = _emoji(text or "", ANGER_EMOJI)
    anger += angry_emoji
    negative += angry_emoji + _emoji(text or "", NEGATIVE_EMOJI)
    positive += _emoji(text or "", POSITIVE_EMOJI)

    # Shouting and "!!" are arousal, not anger: "THANK YOU SO MUCH!!!" is delighted. They count
    # towards anger only as far as the message is not positive.
    positive_strength = _combine(positive)
    for arousal in (_shouting(text or ""), _punctuation(text or "")):
        if arousal:
            anger.append(arousal * (1.0 - positive_strength))
            negative.append(arousal * (1.0 - positive_strength))

    anger_strength = _combine(anger)
    negative_strength = _combine(negative)
    if anger_strength >= threshold:
        label, strength = "angry", anger_strength
    elif negative_strength >= POLARITY_THRESHOLD and negative_strength >= positive_strength:
        label, strength = "negative", negative_strength
    elif positive_strength >= POLARITY_THRESHOLD:
        label, strength = "positive", positive_strength
    else:
        label, strength = "neutral", 1.0 - max(negative_strength, positive_strength)
    return Sentiment(label=label, score=round(strength, 3), anger=round(anger_strength, 3))


# --------------------------------------------------------------------------- Rasa component

_build_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    # PEP 562: ``SentimentAnalyzer`` is created on first access (Rasa's config loader does
    # ``getattr(module, "SentimentAnalyzer")``), so ``score`` never pays for importing Rasa.
    if name == "SentimentAnalyzer":
        return _build_sentiment_analyzer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _build_sentiment_analyzer() -> type:
    # No ``from __future__ import annotations`` in this module on purpose: Rasa validates the
    # graph with ``typing.get_type_hints``, which resolves string annotations in the module's
    # globals, where the Rasa names imported below do not exist.
    with _build_lock:
        if "SentimentAnalyzer" in globals():
            return globals()["SentimentAnalyzer"]

        from rasa.engine.graph import ExecutionContext, GraphComponent
        from rasa.engine.recipes.default_recipe import DefaultV1Recipe
        from rasa.engine.storage.resource import Resource
        from rasa.engine.storage.storage import ModelStorage
        from rasa.shared.exceptions import InvalidConfigException
        from rasa.shared.nlu.constants import TEXT
        from rasa.shared.nlu.training_data.message import Message

        # Registered like Rasa's FallbackClassifier: for a component that is not trainable the
        # recipe adds only a prediction node for INTENT_CLASSIFIER / ENTITY_EXTRACTOR types, so
        # it runs on every incoming message and never on training data.
        @DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
        class SentimentAnalyzer(GraphComponent):
            """Adds ``sentiment`` (label, score, anger) to every parsed user message.

            The value appears in the parse result, so ``UpsetCustomerPolicy`` and the handoff
            card can read it from ``tracker.latest_message.parse_data["sentiment"]``.
            """

            @staticmethod
            def get_default_config() -> dict[str, Any]:
                return {}

            @classmethod
            def validate_config(cls, config: dict[str, Any]) -> None:
                if "anger_threshold" in config:  # the second threshold this component once had
                    raise InvalidConfigException(
                        "SentimentAnalyzer: remove anger_threshold from config.yml; the one anger "
                        "threshold is handoff.upset_threshold in business.yml (no retraining needed)"
                    )

            @classmethod
            def create(
                cls,
                config: dict[str, Any],
                model_storage: ModelStorage,
                resource: Resource,
                execution_context: ExecutionContext,
            ) -> GraphComponent:
                return cls({**cls.get_default_config(), **config})

            def __init__(self, config: dict[str, Any]) -> None:
                self.validate_config(config)

            def process(self, messages: list[Message]) -> list[Message]:
                threshold = anger_threshold()  # business.yml, read per call: tests switch files
                for message in messages:
                    sentiment = score(message.get(TEXT) or "", threshold)
                    message.set("sentiment", sentiment.to_dict(), add_to_output=True)
                return messages

        SentimentAnalyzer.__qualname__ = "SentimentAnalyzer"
        globals()["SentimentAnalyzer"] = SentimentAnalyzer
        return SentimentAnalyzer
