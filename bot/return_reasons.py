"""Why a customer sends something back: the reason codes, and the typed reason that reads as one.

Why one module: the codes are stored on a return (``customers.returns.reason``), named to the
customer by the return form (``utter_return_reason_<code>``), told apart from typed words by
the handoff context and worded for the agent by the Slack card and the inbox. Four lists of
the same four codes drifted apart once a code was added in one place only.

Why ``reads_as_not_needed``: at the reason step "I don't need it anymore" is the commonest
typed reason, and the NLU reads it as ``stop`` (0.89, next to "I don't want to do this
anymore"), so the return form's "stop" rule used to end the return the customer was in the
middle of. A negated need/use/want *with the thing as its object* ("need it", "use them",
"lo necesito", "brauche es nicht") is a reason; the same verbs about the conversation ("I
don't want to continue", "ya no quiero seguir", "ich will nicht mehr weitermachen") have no
such object and stay a stop. A message that also says stop, cancel or forget is a stop.
"""

from __future__ import annotations

import re

FAULTY, NOT_AS_EXPECTED, NOT_NEEDED, OTHER = "faulty", "not_as_expected", "not_needed", "other"
# Every code a stored return can carry; OTHER means the customer's own words are the reason.
REASON_CODES: tuple[str, ...] = (FAULTY, NOT_AS_EXPECTED, NOT_NEEDED, OTHER)
# How agents' desks (the Slack card, the local inbox) name a code. Agents read English; the
# customer's wording per language is utter_return_reason_<code> in domain.yml.
REASON_FOR_AGENTS: dict[str, str] = {
    FAULTY: "doesn't work / damaged",
    NOT_AS_EXPECTED: "not what they expected",
    NOT_NEEDED: "no longer needed",
    OTHER: "other",
}

# The thing as the object, not the return itself ("I don't want this return" is a stop).
_OBJECT_EN = r"(?:it|them|this|that|these|those|the|one|any|either)\b(?!\s+(?:return|refund|exchange))"
_NOT_NEEDED = re.compile(
    "|".join(
        (
            # English: "don't need it anymore", "dont really use them", "no longer need the hub"
            rf"\b(?:do ?n[o']?t|don['’]t|do not|didn['’]?t|did not|no longer|never)\s+"
            rf"(?:really\s+|even\s+|actually\s+)?(?:need|use|want)\s+{_OBJECT_EN}",
            r"\b(?:not|no longer)\s+needed\b",
            r"\b(?:bought|ordered|got)\s+(?:it|them|this|that)?\s*by (?:mistake|accident)\b",
            # Spanish: "ya no lo necesito", "no la uso", "ya no me hace falta"
            r"\b(?:ya\s+)?no\s+(?:lo|la|los|las)\s+(?:necesito|uso|quiero|utilizo)\b",
            r"\b(?:ya\s+)?no\s+me\s+hace\s+falta\b",
            # German: "brauche es nicht mehr", "ich nutze sie nicht", "wird nicht mehr gebraucht"
            r"\b(?:brauche|brauch|benutze|nutze|will)\s+(?:es|ihn|sie|das|die|den)\s+(?:\w+\s+)?nicht\b",
            r"\bnicht\s+mehr\s+(?:nötig|gebraucht)\b",
        )
    ),
    re.IGNORECASE,
)
# Words that make the message a stop whatever else it says ("stop, I don't need it"). Not
# Spanish "para": it is also "for" ("lo compré para mi hijo y ya no lo necesita").
_LEAVE = re.compile(
    r"\b(?:stop|stopp|cancel|forget|never\s*mind|nevermind|nvm|quit|abort|exit|"
    r"cancela|olvídalo|olvidalo|déjalo|dejalo|abbrechen|vergiss|beenden)\b",
    re.IGNORECASE,
)


def reads_as_not_needed(text: str) -> bool:
    """The text gives "I don't need it" as the reason for a return, and does not ask to stop."""
    return bool(_NOT_NEEDED.search(text)) and not _LEAVE.search(text)
