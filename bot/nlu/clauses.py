"""Split a message into its requests ("my wifi drops. Also, can I return the router?").

Why: a customer often asks two things in one message. The intent classifier sees the whole
message and names one intent, so the second request is lost. The featurizers and
``LinearIntentClassifier`` also score each clause of a message that has more than one (as
sub-messages riding along in the message's data, so they share the message's forward pass
and the very same trained model), and ``SecondRequestDetector`` (bot/nlu/second_request.py)
records a clause that asks for something else.

The splitter is a pure function of the text: sentence ends, question marks and connectors
in the bot's languages (English "also", "plus", "btw", "and should I ..."; Spanish
"también", "además", "por cierto", "y ¿puedo ...?"; German "auch", "außerdem", "übrigens",
"und kann ich ..."). Fragments of fewer than ``MIN_WORDS`` words ("I also want ..." leaves
"I") are not requests and are dropped, so most single requests are not split at all.

The Spanish and German connectors count only at the start of a clause (a sentence start,
after a comma, after "y"/"und"): German word order puts "auch", "außerdem" and "übrigens"
inside a clause ("mein Paket ist übrigens noch nicht da"), where a cut would leave two
long fragments of one request; "auch"/"también" before a preposition, "nicht" or "wenn"
qualify a phrase ("und auch nach dem Neustart") and are not connectors either.
"""

from __future__ import annotations

import re

from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

# Message data key of a message's clause sub-messages (never in the parse output).
CLAUSES = "clauses"
# Data key of a clause sub-message: where the clause sits in the message's text.
SPAN = "clause_span"
MIN_WORDS = 3
MAX_CLAUSES = 4  # bounds the extra work per message (each clause is one more row to encode)

_QUESTION_START = r"(?:should|can|could|how|what|where|when|why|do|does|will|would|is|are)\b"
# Spanish and German connectors, only at a clause start (see the module docstring).
_ALSO = (
    r"(?:también|tambien|auch)\b"
    r"(?!\s+(?:en|con|para|por|de|del|si|cuando|nicht|kein\w*|wenn|nach|bei|mit|im|in|auf|am|an|für)\b)"
)
_MOREOVER = r"(?:además|ademas|por\s+cierto|außerdem|ausserdem|übrigens|uebrigens|ubrigens)\b"
_CLAUSE_START = rf"(?:(?:y|und)\s+)?(?:{_ALSO}|{_MOREOVER})[,:]?\s*"
# "y" + a question: a question word needs its accent ("y que me reembolsen", "y cuando lo
# reinicio" are not questions); "puedo"/"podría"/"debería" also open statements, so they
# count only when the clause ends with a question mark.
_ES_QUESTION = r"(?:¿|(?:cómo|dónde|cuándo|qué)\b|(?:puedo|podr[ií]a|deber[ií]a)\b(?=[^.!;?]*\?))"
# "und" + a question: a modal or question word, then its verb and subject ("und kann ich",
# "und wo finde ich", "und wo ist ..."), never "und wie gesagt" or "und was noch schlimmer ist".
_DE_SUBJECT = r"(?:ich|man|wir|du|sie|es)\b"
_DE_QUESTION = (
    rf"(?:(?:kann|kannst|können|könnte|könnten|koennte|soll|sollte|muss|darf)\s+{_DE_SUBJECT}"
    rf"|(?:wie|wo|wann|was|warum)\s+(?:lange\s+)?\w+\s+{_DE_SUBJECT}"
    r"|(?:wie|wo|wann|was)\s+(?:ist|sind|kommt|kommen)\b)"
)
_BOUNDARY = re.compile(
    rf"(?<=[.!?;])\s+(?:{_CLAUSE_START})?"  # a sentence ends ("... . Außerdem, ...")
    r"|\s*,?\s*\b(?:and\s+)?(?:also|plus|btw|by\s+the\s+way)\b[,:]?\s*"  # "..., and also ..."
    rf"|\s*,?\s*\band\s+(?:(?:honestly|then|maybe|just)\s+)?(?={_QUESTION_START})"  # "... and should I"
    rf"|\s*(?:,\s*|\s(?=(?:y|und)\s)){_CLAUSE_START}"  # "..., también ...", "... und außerdem ..."
    rf"|\s*,?\s*\by\s+(?={_ES_QUESTION})"  # "... y ¿puedo ...?", "... y dónde ..."
    rf"|\s*,?\s*\bund\s+(?={_DE_QUESTION})",  # "... und kann ich ...", "... und wo ist ..."
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")
_EDGES = " \t\n,;:-–—"


def clause_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each clause of ``text``; empty when it holds fewer than two."""
    spans: list[tuple[int, int]] = []
    position = 0
    for boundary in [*_BOUNDARY.finditer(text or ""), None]:
        end = boundary.start() if boundary else len(text or "")
        start = position
        while start < end and text[start] in _EDGES:
            start += 1
        while end > start and text[end - 1] in _EDGES:
            end -= 1
        if len(_WORD.findall(text[start:end])) >= MIN_WORDS:
            spans.append((start, end))
        if boundary:
            position = boundary.end()
    return spans[:MAX_CLAUSES] if len(spans) >= 2 else []


def split_clauses(text: str) -> list[str]:
    """The clauses of ``text`` (see :func:`clause_spans`); empty when it holds fewer than two."""
    return [text[start:end] for start, end in clause_spans(text)]


def clause_messages(messages: list[Message]) -> list[Message]:
    """The clause sub-messages of ``messages`` (made once per message, then reused).

    The first component that asks splits the text; the featurizers add their features to
    the same sub-messages and the classifier ranks them, as for any message.
    """
    found: list[Message] = []
    for message in messages:
        clauses = message.get(CLAUSES)
        if clauses is None:
            text = message.get(TEXT) or ""
            clauses = [Message(data={TEXT: text[s:e], SPAN: (s, e)}) for s, e in clause_spans(text)]
            message.set(CLAUSES, clauses)
        found.extend(clauses)
    return found
