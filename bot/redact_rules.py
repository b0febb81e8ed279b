"""The patterns :func:`bot.redact.redact` applies, in order, and what each one keeps.

Kept apart from bot/redact.py so the rules can be read (and reviewed) as a list. Every
pattern is precompiled and linear: no nested unbounded repetition, bounded look-arounds.
Each rule is a function from text to text; most are ``pattern.sub`` with a replacement.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar

SECRET = "[secret redacted]"
REDACTED = "[redacted]"
IBAN_REDACTED = "[iban redacted]"
SSN_REDACTED = "[ssn redacted]"
PRIVATE_KEY_REDACTED = "[private key redacted]"

Rule = Callable[[str], str]


# What the rules took out of the text being redacted (see bot.redact: its other copies go too).
REMOVED: ContextVar[list[str] | None] = ContextVar("redact_removed", default=None)


def note_removed(original: str, replacement: str) -> None:
    """Remember the part of ``original`` that ``replacement`` dropped (less what both share)."""
    removed = REMOVED.get()
    if removed is None or original == replacement:
        return
    start = _shared(original, replacement)
    end = _shared(original[start:][::-1], replacement[start:][::-1])
    removed.append(original[start : len(original) - end])


def _shared(a: str, b: str) -> int:
    """Length of the prefix ``a`` and ``b`` have in common."""
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def substitute(
    pattern: re.Pattern[str], replacement: str | Callable[[re.Match[str]], str], hints: tuple[str, ...] = ()
) -> Rule:
    """The rule that replaces every match of ``pattern`` (and notes what it removed).

    ``hints``: lowercase substrings every match contains; text without any of them is not
    searched at all (a substring test is many times cheaper than the pattern).
    """

    def replace(match: re.Match[str]) -> str:
        new = replacement(match) if callable(replacement) else replacement
        note_removed(match.group(0), new)
        return new

    def rule(text: str) -> str:
        if hints:
            lowered = text.lower()
            if not any(hint in lowered for hint in hints):
                return text
        return pattern.sub(replace, text)

    return rule


# --------------------------------------------------------------------------- keys and tokens

# A pasted PEM private key, also when the paste was cut off before its END line.
_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----.*?"
    r"(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)

# Formats with a recognisable prefix: a match is a secret no matter what surrounds it.
_TOKEN = re.compile(
    r"""
    (?<![\w-])(?:
        [sr]k_(?:live|test)_[0-9A-Za-z]{8,}          # Stripe secret / restricted keys
      | whsec_[0-9A-Za-z]{16,}                       # Stripe webhook secrets
      | sk-[0-9A-Za-z_-]{20,}                        # OpenAI / Anthropic style keys (sk-proj-, sk-ant-)
      | xox[abposre]-[0-9A-Za-z-]{8,}                # Slack bot / user / app tokens
      | xapp-\d-[0-9A-Za-z-]{8,}                     # Slack app-level tokens
      | gh[pousr]_[0-9A-Za-z]{20,}                   # GitHub tokens (ghp_, gho_, ...)
      | github_pat_[0-9A-Za-z_]{20,}                 # GitHub fine-grained tokens
      | glpat-[0-9A-Za-z_-]{20,}                     # GitLab personal access tokens
      | npm_[0-9A-Za-z]{36}                          # npm tokens
      | (?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[0-9A-Z]{16}   # AWS key ids
      | AIza[0-9A-Za-z_-]{35}                        # Google API keys
      | SG\.[0-9A-Za-z_-]{16,}\.[0-9A-Za-z_-]{16,}   # SendGrid keys
      | eyJ[0-9A-Za-z_-]{6,}\.eyJ[0-9A-Za-z_-]{6,}\.[0-9A-Za-z_-]{6,}   # JWTs
    )(?![\w-])
    """,
    re.VERBOSE,
)
# Incoming-webhook URLs are credentials: anyone with the URL can post as the app.
_WEBHOOK_URL = re.compile(
    r"https?://(?:hooks\.slack\.com/(?:services|workflows|triggers)"
    r"|(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks)/[0-9A-Za-z/_-]+",
    re.IGNORECASE,
)
# "https://user:password@host": the password goes, the rest of the URL stays.
_URL_PASSWORD = re.compile(r"(?<=://)([^/\s:@]{1,100}):(?!\[)[^/\s@]{1,200}(?=@)")
# "Bearer <token>": the token must look like one (long, with a digit), so "bearer of bad news" stays.
_BEARER = re.compile(r"\b(Bearer\s+)(?=[\w\-.~+/]*\d)[\w\-.~+/]{16,}=*", re.IGNORECASE)
# A bare 40-character base64 string with upper and lower case and a digit or / or +: an AWS
# secret access key. Git hashes (lowercase hex) and words never look like that.
_AWS_SECRET = re.compile(r"(?<![\w/+=.-])[A-Za-z0-9/+]{40}(?![\w/+=.-])")
# "api key: …", "client_secret=…", "my token is …": the value, when it looks like a key.
_KEYWORD_SECRET = re.compile(
    r"""
    \b(?P<keyword>(?:aws[_ -]?)?secret(?:[_ -]?access)?[_ -]?key|api[_ -]?(?:key|token|secret)
      |access[_ -]?(?:token|key)|auth[_ -]?token|client[_ -]?secret|private[_ -]?key|secret|token)\b
    (?P<lead>\s*[:=]\s*|\s+(?:is|was)\s+)
    (?!\[)(?P<secret>"[^"\n]{1,500}"|'[^'\n]{1,500}'|[^\s"',;]{8,})
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _aws_secret(match: re.Match[str]) -> str:
    value = match.group(0)
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value)
    return SECRET if mixed and any(c.isdigit() or c in "/+" for c in value) else value


def _keyword_secret(match: re.Match[str]) -> str:
    secret = match.group("secret")
    if secret[0] not in "\"'" and not any(not c.isalpha() for c in secret):
        return match.group(0)  # "token: expired", "the secret is unbelievable": words, not keys
    return match.group("keyword") + match.group("lead") + SECRET


# --------------------------------------------------------------------------- IBAN

# Country code, two check digits, then 11-30 letters/digits, in groups of four (a space,
# two spaces or a dash between groups) or not grouped at all.
_IBAN = re.compile(
    r"\b[A-Z]{2}\d{2}(?:(?: {1,2}|-)?[A-Z0-9]{4}){2,7}(?:(?: {1,2}|-)?[A-Z0-9]{1,4})?\b", re.IGNORECASE
)
_IBAN_SEPARATOR = re.compile(r" {1,2}|-")
_IBAN_COUNTRIES = frozenset(
    {
        "AD", "AE", "AL", "AT", "AZ", "BA", "BE", "BG", "BH", "BI", "BR", "BY", "CH", "CR", "CY",
        "CZ", "DE", "DJ", "DK", "DO", "EE", "EG", "ES", "FI", "FK", "FO", "FR", "GB", "GE", "GI",
        "GL", "GR", "GT", "HR", "HU", "IE", "IL", "IQ", "IS", "IT", "JO", "KW", "KZ", "LB", "LC",
        "LI", "LT", "LU", "LV", "LY", "MC", "MD", "ME", "MK", "MN", "MR", "MT", "MU", "NI", "NL",
        "NO", "OM", "PK", "PL", "PS", "PT", "QA", "RO", "RS", "RU", "SA", "SC", "SD", "SE", "SI",
        "SK", "SM", "SO", "ST", "SV", "TL", "TN", "TR", "UA", "VA", "VG", "XK",
    }
)  # fmt: skip


def _iban_ok(candidate: str) -> bool:
    """ISO 13616 mod-97 check: move the first four characters to the end, letters become 10..35."""
    compact = _IBAN_SEPARATOR.sub("", candidate).upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _iban(match: re.Match[str]) -> str:
    candidate = match.group(0)
    if candidate[:2].upper() not in _IBAN_COUNTRIES:
        return candidate
    # Shouted text can run on into the match ("BE68 5390 0754 7034 PLEASE"): prefer the longest
    # prefix of whole chunks that passes the checksum, and keep the rest.
    ends = [m.start() for m in _IBAN_SEPARATOR.finditer(candidate)] + [len(candidate)]
    for end in reversed(ends):
        if _iban_ok(candidate[:end]):
            return IBAN_REDACTED + candidate[end:]
    # A mistyped IBAN is still account data; redact it when the length is plausible.
    bban_length = len(_IBAN_SEPARATOR.sub("", candidate)) - 4
    return IBAN_REDACTED if 11 <= bban_length <= 30 else candidate


# --------------------------------------------------------------------------- SSN

# US SSN, dashed: area 000/666/9xx is never issued. Undashed (or spaced) nine digits only
# after the keyword: without it, nine digits are too often a phone or tracking number.
_SSN = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")
_SSN_KEYWORD = re.compile(
    r"\b(ssn|social[ \t]+security(?:[ \t]+(?:number|no\.?))?)\b([^\d\n]{0,20}?)"
    r"(?<!\d)\d{3}[ .]?\d{2}[ .]?\d{4}(?![\d-])",
    re.IGNORECASE,
)

# --------------------------------------------------------------------------- cards

# A run of digits with at most one separator between any two of them: a space (or two), a
# line break, a dot, a slash or a dash. Cards are typed every way ("4111.1111.1111.1111",
# "4111 1111\n1111 1111"); which part of the run is a card is decided in _card.
_DIGIT_RUN = re.compile(r"(?<![\w+-])(?P<plus>\+ ?)?\d(?:(?: {1,2}|\r?\n|[ ]?[./-][ ]?)?\d){12,60}(?!\d)")
_DIGIT_GROUP = re.compile(r"\d+")
# The first digits of the card networks' numbers (Visa 4, Mastercard 2221-2720 and 51-55,
# Maestro 5/6, Amex 34/37, Diners 30/36/38, JCB 35, Discover 60/64/65, UnionPay 62, Mir 220x).
# Tracking numbers (1Z…, 94…, 7…), phone numbers (0…, 1…) and FedEx's 61… do not start so.
_CARD_START = re.compile(r"2[2-7]|3|4|5|6[02-9]")


def _luhn_ok(digits: str) -> bool:
    """The check digit every payment card number carries; random numbers fail it 9 times in 10."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _find_card(groups: list[re.Match[str]]) -> tuple[int, int, int] | None:
    """(first group, index after the last group, digits cut from it) of the longest card.

    A card starts at a group and ends at the end of a group, or 3-4 digits before it: a CVV
    or an expiry typed straight after the number ("4111111111111111123").
    """
    best: tuple[int, int, int, int] | None = None  # (length, first, after, cut)
    for first in range(len(groups)):
        if not _CARD_START.match(groups[first].group(0)):
            continue
        digits = ""
        for last in range(first, len(groups)):
            digits += groups[last].group(0)
            if len(digits) > 23:
                break
            for cut in (0, 3, 4):
                card = digits[: len(digits) - cut]
                fits = 13 <= len(card) <= 19 and (cut == 0 or len(groups[last].group(0)) > cut)
                if fits and (best is None or len(card) > best[0]) and _luhn_ok(card):
                    best = (len(card), first, last + 1, cut)
        if best is not None:
            break  # the earliest card wins; the rest of the run is looked at afterwards
    return best[1:] if best else None


def _card(match: re.Match[str]) -> str:
    """Mask the card in a run of digits to its last four; a CVV or expiry after it goes too."""
    if match.group("plus") or "imei" in match.string[max(0, match.start() - 12) : match.start()].lower():
        return match.group(0)  # "+49 151 2345 6789" is a phone number; an IMEI passes Luhn by design
    run, out, start = match.group(0), [], 0
    while (found := _find_card(groups := list(_DIGIT_GROUP.finditer(run, start)))) is not None:
        first, after, cut = found
        digits = "".join(g.group(0) for g in groups[first:after])
        out.append(run[start : groups[first].start()] + f"[card •••• {digits[: len(digits) - cut][-4:]}]")
        rest = groups[after:]
        if cut:  # "4111111111111111123": the CVV typed straight after the number
            out.append(" " + REDACTED)
            start = groups[after - 1].end()
        elif rest and sum(len(g.group(0)) for g in rest) <= 8:  # "… 1111 123", "…/12/27": CVV, expiry
            out.append(run[groups[after - 1].end() : rest[0].start()] + REDACTED)
            return "".join(out)
        else:
            start = groups[after - 1].end()
    return "".join(out) + run[start:]


# --------------------------------------------------------------------------- CVV

_CVV = re.compile(
    r"\b(cvv2?|cvc2?|cvn|csc|card\s+verification\s+(?:code|value)|security\s+code|cryptogramme"
    r"|kartenpr[üu]fnummer|pr[üu]fziffer|c[óo]digo\s+de\s+seguridad)"
    r"(\s*(?:(?:is|was|ist|est|es)\b\s*)?[:=#-]?\s*)(\d{3,4})\b",
    re.IGNORECASE,
)


def _cvv(match: re.Match[str]) -> str:
    return f"{match.group(1)}{match.group(2)}{REDACTED}"


# In order; the keyword rules (passwords, PINs, one-time codes) of bot/redact_words.py follow.
RULES: tuple[Rule, ...] = (
    substitute(_PEM, PRIVATE_KEY_REDACTED, ("-----begin",)),
    substitute(_WEBHOOK_URL, SECRET, ("://",)),
    substitute(_TOKEN, SECRET),
    substitute(_URL_PASSWORD, lambda m: m.group(1) + ":" + REDACTED, ("://",)),
    substitute(_BEARER, lambda m: m.group(1) + SECRET, ("bearer",)),
    substitute(_KEYWORD_SECRET, _keyword_secret, ("secret", "key", "token")),
    substitute(_AWS_SECRET, _aws_secret),
    substitute(_IBAN, _iban),
    substitute(_SSN, SSN_REDACTED),
    substitute(_SSN_KEYWORD, lambda m: m.group(1) + m.group(2) + SSN_REDACTED, ("ssn", "social")),
    substitute(_DIGIT_RUN, _card),
    substitute(
        _CVV, _cvv, ("cv", "csc", "verification", "security", "crypto", "fnummer", "fziffer", "seguridad")
    ),
)
