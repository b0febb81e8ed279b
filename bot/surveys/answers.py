"""Reading a customer's free-text survey answer: "9", "nine", "10/10", "5 stars", "⭐⭐⭐⭐", "👍", "meh".

Pure functions, no I/O. Customers answer in their own words on every channel (X DMs
have no buttons; web-chat customers often type instead of tapping), so the answer is read
from the text itself, not from the NLU intent. The reading is strict on purpose: a score
is taken only when the message is *just* a score (a number with filler words, a fraction
over the survey's own scale, stars, a thumb, or a scale label such as "very satisfied").
"I have 2 routers and both are down" is a new question, never a 2 — a survey must not eat
the customer's next question. Out-of-range numbers read as ``None``;
:func:`looks_like_score` tells the action that the customer *tried* to answer, so it can
ask again instead of treating "11" as a change of subject.
"""

from __future__ import annotations

import re
import unicodedata

from bot.surveys.models import CES, CSAT, NPS

# The scale of each kind: (lowest, highest).
SCALES: dict[str, tuple[int, int]] = {CSAT: (1, 5), NPS: (0, 10), CES: (1, 7)}

NUMBER_WORDS = {
    "zero": 0, "nought": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
# Words that may surround a bare score: "I'd give it a 9", "solid 8!", "5 stars thanks".
FILLER = {
    "i", "i'd", "id", "i'll", "would", "will", "give", "giving", "gave", "it", "you", "u", "guys", "a",
    "an", "rate", "rating", "score", "my", "is", "say", "about", "around", "solid", "definitely",
    "probably", "maybe", "honestly", "its", "it's", "that's", "thats", "ok", "okay", "hmm", "um", "uh",
    "well", "so", "overall", "the", "lol", "thanks", "thank", "thx", "please", "pls", "sure", "yeah",
    "yes", "yep", "for", "me", "experience", "service", "support", "answer", "just", "easy", "really",
    "must", "be", "then", "today", "this", "time", "out", "of", "points", "point", "pts", "tbh",
}  # fmt: skip
STAR_WORDS = {"star", "stars"}
STAR_EMOJI = "⭐★🌟✪✭"
THUMBS_UP, THUMBS_DOWN = "👍", "👎"
_SKIN_TONES = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f]")
_TOKEN = re.compile(r"[a-z][a-z']*|\d+(?:[.,]\d+)?|\S")
_NUMBER = r"(\d+|zero|one|two|three|four|five|six|seven|eight|nine|ten)"
_FRACTION = re.compile(_NUMBER + r"\s*(?:/|out of|outta|of)\s*" + _NUMBER)
_INTENSIFIERS = re.compile(r"\b(?:extremely|really|super|totally|highly|incredibly)\b")
_LABEL_FILLER = re.compile(
    r"\b(?:i'm|im|i am|i was|i|am|was|it was|it's|its|it|that's|thats|that|pretty|quite|honestly|"
    r"overall|tbh|just|feeling|feel|to be honest|the help|with it|with the help|with that)\b"
)

# Scale labels (the words on the buttons and what people say instead), after intensifiers
# became "very" and filler went.
LABELS: dict[str, dict[str, int]] = {
    CSAT: {
        "very dissatisfied": 1, "very unsatisfied": 1, "very unhappy": 1, "terrible": 1, "awful": 1,
        "horrible": 1, "very bad": 1, "worst": 1, "useless": 1,
        "dissatisfied": 2, "unsatisfied": 2, "unhappy": 2, "not satisfied": 2, "not happy": 2, "bad": 2,
        "poor": 2, "not good": 2, "not great": 2,
        "neutral": 3, "meh": 3, "ok": 3, "okay": 3, "so-so": 3, "so so": 3, "average": 3, "fine": 3,
        "alright": 3, "mixed": 3, "neither": 3,
        "satisfied": 4, "happy": 4, "good": 4, "pleased": 4, "quite good": 4,
        "very satisfied": 5, "very happy": 5, "very good": 5, "great": 5, "excellent": 5, "amazing": 5,
        "perfect": 5, "awesome": 5, "brilliant": 5, "fantastic": 5, "loved it": 5, "love it": 5,
    },
    CES: {
        "strongly disagree": 1, "very difficult": 1, "very hard": 1, "impossible": 1,
        "disagree": 2, "difficult": 2, "hard": 2, "not easy": 2,
        "somewhat disagree": 3, "slightly disagree": 3, "a bit hard": 3,
        "neutral": 4, "neither": 4, "neither agree nor disagree": 4, "meh": 4, "ok": 4, "okay": 4,
        "so-so": 4, "so so": 4,
        "somewhat agree": 5, "slightly agree": 5, "fairly easy": 5,
        "agree": 6, "easy": 6, "yes easy": 6,
        "strongly agree": 7, "very easy": 7, "very much agree": 7, "completely agree": 7, "effortless": 7,
    },
    NPS: {
        "never": 0, "not at all likely": 0, "not at all": 0, "no way": 0,
        "very unlikely": 1, "unlikely": 2, "not likely": 2, "doubt it": 3,
        "meh": 5, "neutral": 5, "not sure": 5, "maybe": 5,
        "likely": 8, "probably": 8, "very likely": 9, "definitely": 10, "absolutely": 10,
        "extremely likely": 10, "for sure": 10,
    },
}  # fmt: skip

DECLINES = {
    "no", "nope", "nah", "no thanks", "no thank you", "no thx", "stop", "not now", "skip", "later",
    "maybe later", "not interested", "no time", "rather not", "i'd rather not", "id rather not", "pass",
    "no survey", "no surveys", "leave me alone", "don't want to", "dont want to", "not today", "n/a",
    "cancel", "unsubscribe", "no ty", "nothanks", "stop asking", "i don't want to", "no, thanks",
    "no thanks, bye", "not right now", "skip it", "skip this",
    # Spanish and German (business.languages): the survey is asked in the customer's language.
    "no gracias", "no, gracias", "ahora no", "más tarde", "mas tarde", "luego", "paso", "prefiero no",
    "no me interesa", "no tengo tiempo", "nein", "nein danke", "nein, danke", "nee", "nö", "später",
    "jetzt nicht", "lieber nicht", "kein interesse", "keine zeit", "überspringen",
}  # fmt: skip
NO_COMMENT = DECLINES | {
    "nothing", "nothing else", "that's all", "thats all", "that's it", "thats it", "all good", "none",
    "no comment", "no comments", "nothing to add", "all fine", "-", "no thanks that's all",
    "nada", "nada más", "nada mas", "eso es todo", "todo bien", "nichts", "nichts weiter", "das war's",
    "das wars", "alles gut", "alles gut, danke",
}  # fmt: skip


def normalise(text: str) -> str:
    """Lower case, one kind of apostrophe and space, no skin tones or variation selectors."""
    folded = unicodedata.normalize("NFKC", text).replace("’", "'").replace("‘", "'").lower()
    folded = _SKIN_TONES.sub("", folded)
    return re.sub(r"\s+", " ", folded).strip()


def _phrase(text: str) -> str:
    """The text as a phrase: trailing punctuation and surrounding quotes gone."""
    return normalise(text).strip(" \t\"'!.?,;:)(*~")


def is_decline(text: str) -> bool:
    """The customer does not want to answer ("no thanks", "stop", "not now")."""
    return _phrase(text) in DECLINES


def is_no_comment(text: str) -> bool:
    """Asked for a comment, the customer has nothing to add."""
    return _phrase(text) in NO_COMMENT


def read_answer(text: str, kind: str) -> int | None:
    """The score ``text`` gives on ``kind``'s scale, or None (not a score, or out of range)."""
    low, high = SCALES[kind]
    score = _read(text, kind, high)
    return score if score is not None and low <= score <= high else None


def looks_like_score(text: str) -> bool:
    """Whether ``text`` is an attempt at a score, in range or not ("11", "4.5", "6/7")."""
    phrase = _phrase(text)
    if not phrase:
        return False
    if _stars_only(phrase) is not None or phrase in (THUMBS_UP, THUMBS_DOWN):
        return True
    fraction = _FRACTION.search(phrase)
    if fraction is not None:
        return _only_filler(phrase[: fraction.start()] + " " + phrase[fraction.end() :], allow_stars=True)
    return _bare_number(phrase, allow_stars=True, allow_decimal=True) is not None


def _read(text: str, kind: str, high: int) -> int | None:
    phrase = _phrase(text)
    if not phrase:
        return None
    stars = _stars_only(phrase)
    if stars is not None:
        return stars if kind == CSAT else None
    if phrase in (THUMBS_UP, THUMBS_DOWN):  # the two ends of the scale
        return SCALES[kind][1] if phrase == THUMBS_UP else SCALES[kind][0]
    fraction = _FRACTION.search(phrase)
    if fraction is not None:
        rest = (phrase[: fraction.start()] + " " + phrase[fraction.end() :]).strip()
        if _only_filler(rest, allow_stars=kind == CSAT):
            numerator, denominator = (_value(part) for part in fraction.groups())
            return numerator if denominator == high else None  # "4/5" on a 0-10 scale says nothing
        return None
    number = _bare_number(phrase, allow_stars=kind == CSAT, allow_decimal=False)
    if number is not None:
        return number
    return _label(phrase, kind)


def _stars_only(phrase: str) -> int | None:
    """ "⭐⭐⭐⭐" → 4 (nothing but star emoji)."""
    compact = phrase.replace(" ", "")
    if compact and all(char in STAR_EMOJI for char in compact):
        return len(compact)
    return None


def _value(token: str) -> int:
    return int(token) if token.isdigit() else NUMBER_WORDS[token]


def _only_filler(text: str, *, allow_stars: bool) -> bool:
    allowed = FILLER | (STAR_WORDS if allow_stars else set())
    return all(token in allowed or not token[0].isalnum() for token in _TOKEN.findall(text))


def _bare_number(phrase: str, *, allow_stars: bool, allow_decimal: bool) -> int | None:
    """The one number in a message that is otherwise only filler ("I'd give it a 9!")."""
    tokens = _TOKEN.findall(phrase)
    numbers = [t for t in tokens if t[0].isdigit() or t in NUMBER_WORDS]
    if len(numbers) != 1:
        return None
    others = " ".join(t for t in tokens if t is not numbers[0])
    if not _only_filler(others, allow_stars=allow_stars):
        return None
    token = numbers[0]
    position = tokens.index(token)
    if position > 0 and tokens[position - 1] in ("-", "−"):  # "-1": below every scale
        return -1
    if not token.isdigit() and token not in NUMBER_WORDS:  # "4.5"
        return -1 if allow_decimal else None
    if token.isdigit() and len(token) > 3:  # an order or phone number, not a score
        return None
    return _value(token)


def _label(phrase: str, kind: str) -> int | None:
    labels = LABELS[kind]
    plain = _LABEL_FILLER.sub(" ", phrase)
    plain = re.sub(r"\s+", " ", re.sub(r"[^\w\s'/-]", " ", plain)).strip()
    if plain in labels:  # "extremely likely" is a label of its own
        return labels[plain]
    words = _INTENSIFIERS.sub("very", plain)
    if words in labels:
        return labels[words]
    if words.startswith("very very "):  # "really really happy"
        return labels.get(words[5:])
    return None
