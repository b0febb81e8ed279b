"""Keyword rules for :func:`bot.redact.redact`: passwords, PINs and one-time codes.

A secret without a recognisable shape is only found by what the customer says before it:
"my password is …", "Passwort: …", "mot de passe : …", "mi contraseña es …", "my code is
123456". These rules run after the shape rules of bot/redact_rules.py and skip anything
already replaced by a ``[...]`` placeholder, which keeps :func:`bot.redact.redact` idempotent.

Keyword, lead-in, secret. The lead-in decides how sure we are that a secret follows:
  ":" or "="          "password: x", "pw=abc", "pass: x"              -> always a secret
  "is" / "ist" / …    "my password is Hunter2", "the password for my account at the
                      shop is now x", "mein Passwort ist x"
                      -> a secret unless it is an everyday word ("my password is not working")
  whitespace only     "pin 1234", "passcode 998877"                     -> only if it looks like one
A secret of plain words ("correct horse battery staple") runs to the end of the clause: up
to eight words, stopping at punctuation, a line break or a word such as "and" or "please".
"""

from __future__ import annotations

import re

from bot.redact_rules import REDACTED, Rule, note_removed, substitute

# "is" in the languages we support, and words that may sit between it and the secret.
_IS = r"(?:is|was|ist|war|lautet|est|était|es|era)"
_LEAD = rf"""
    (?P<lead>
        \s*[:=]\s*
      | (?:\s+(?!{_IS}\b)[\w@’'-]+){{0,6}}?                        # "for my account at the shop"
        \s+{_IS}\b(?!['’]\w)\s*[:=]?\s*
        (?:(?:now|still|just|actually|currently|definitely|really|literally|simply|basically
            |set\s+to|changed\s+to|jetzt|noch|maintenant|toujours|ahora|todavía)\s+){{0,3}}
      | \s+
    )
"""
_SECRET = r"""
    (?!\[)(?P<secret>"[^"\n]{1,500}"|'[^'\n]{1,500}'|[^\s\[]\S{0,200})
    (?=(?P<more>(?:[ \t]+[^\s,;]{1,100}){0,7}))
"""
_PASSWORD = re.compile(
    r"(?<![\w-])(?P<keyword>pass(?:\s?word|\s?code|phrase)s?|passwd|pwd|pw|pass(?=\s*[:=])"
    r"|pin(?:[\s-]+(?:code|number|nummer))?|passwort|kennwort|geheimzahl|mot\s+de\s+passe"
    r"|code\s+(?:pin|secret|confidentiel)|contrase(?:ñ|n)a|clave(?:\s+secreta)?)\b" + _LEAD + _SECRET,
    re.IGNORECASE | re.VERBOSE,
)
# One-time codes. A qualified code ("verification code", "Bestätigungscode", "código de
# verificación") may hold letters; a bare "code" only digits, and not after "zip", "error" …
_CODE = re.compile(
    r"""(?<![\w-])(?P<keyword>
        (?:(?:verification|confirmation|security|one[- ]?time|login|log[- ]?in|sign[- ]?in|sms|text
            |2fa|two[- ]factor|mfa|auth(?:entication|orization)?|access|reset|unlock|activation|otp
            |pairing|setup)[ \t]+)?(?:code|otp|passcode|tan)s?
      | otp|tan
      | (?:bestätigungs|sicherheits|verifizierungs|einmal|zugangs|freischalt|aktivierungs|anmelde|sms-?)code
      | code[ \t]+(?:de[ \t]+|d')(?:vérification|verification|confirmation|sécurité|securite|connexion
            |validation|accès|acces)
      | c[óo]digo(?:[ \t]+de[ \t]+(?:verificaci[óo]n|seguridad|confirmaci[óo]n|acceso))?
    )\b"""
    + _LEAD
    + r"(?!\[)(?P<secret>\d{3}[ -]\d{3}\b|\d{4,8}\b|[A-Za-z0-9]{4,12}\b)",
    re.IGNORECASE | re.VERBOSE,
)
# "zip code 94043", "error code 0x8007", "discount code SAVE10": codes that are not secrets.
_NOT_A_SECRET_CODE = frozenset(
    {
        "error", "zip", "postal", "post", "promo", "promotional", "discount", "coupon", "voucher",
        "gift", "referral", "product", "qr", "country", "area", "source", "status", "tracking",
        "order", "invoice", "reference", "ref", "sort", "swift", "bic", "tax", "hs", "colour", "color",
        "dial", "region", "bar", "item", "sku", "model", "fault", "exit", "response", "http",
        "return", "rma", "shipping", "class", "dress", "morse", "fehler", "erreur", "barras",
    }
)  # fmt: skip
# Words that follow "my password is ..." in complaints, not secrets ("my password is not working").
_NOT_A_SECRET = frozenset(
    {
        "a", "an", "the", "my", "your", "our", "this", "that", "it", "not", "no", "never", "wrong",
        "incorrect", "invalid", "expired", "correct", "right", "too", "very", "being", "still",
        "now", "also", "already", "just", "required", "reset", "changed", "locked", "blocked",
        "long", "short", "weak", "strong", "working", "broken", "missing", "lost", "forgotten",
        "empty", "same", "different", "case", "sensitive", "rejected", "accepted", "fine", "ok",
        "okay", "in", "on", "for", "what", "there", "here", "only", "probably", "definitely",
        "supposed", "saved", "stored", "set", "gone", "useless", "fake", "hacked", "compromised",
        "again", "today", "yesterday", "anymore", "apparently", "somehow", "suddenly", "always",
        # German, French, Spanish
        "nicht", "kein", "keine", "falsch", "abgelaufen", "vergessen", "gesperrt", "richtig",
        "korrekt", "ungültig", "zu", "der", "die", "das", "ein", "eine", "mein", "meine", "leer",
        "pas", "plus", "faux", "fausse", "expiré", "oublié", "bloqué", "trop", "le", "la", "un",
        "une", "mon", "ma", "ne", "incorrecte", "valide", "incorrecta", "incorrecto",
        "correcta", "caducada", "olvidada", "bloqueada", "muy", "demasiado", "el", "mi", "una",
        "válida", "inválida",
    }
)  # fmt: skip
# Where a secret of several plain words ends ("my password is open sesame and my email ...").
_CLAUSE_WORDS = frozenset(
    {
        "and", "but", "or", "so", "please", "pls", "plz", "thanks", "thank", "thx", "ok", "okay",
        "can", "could", "would", "will", "which", "that", "because", "since", "if", "when", "then",
        "for", "to", "on", "in", "at", "with", "from", "of", "i", "i'm", "it", "is", "my", "the",
        "und", "aber", "bitte", "danke", "et", "mais", "merci", "svp", "y", "pero", "gracias",
    }
)  # fmt: skip
_TRAILING_PUNCTUATION = ".,;:!?)\"'"


def _looks_like_secret(word: str) -> bool:
    """A digit, a symbol or inner capitals: "Hunter2!", "p@ss", "tRoub4dor" but not "yesterday"."""
    word = word.rstrip(_TRAILING_PUNCTUATION)
    if not word:
        return False
    if any(char.isdigit() for char in word):
        return True
    if any(not char.isalnum() and char not in "'-’" for char in word):
        return True
    return any(char.isupper() for char in word[1:]) and any(char.islower() for char in word)


def _plain(word: str) -> str:
    return word.rstrip(_TRAILING_PUNCTUATION).lower()


def _passphrase_end(secret: str, more: str) -> int:
    """How much of ``more`` (the words after the first) still belongs to the secret."""
    if secret[-1:] in ".!?,;:":  # the clause ended with the first word
        return 0
    end = 0
    for word in re.finditer(r"[ \t]+(\S+)", more):
        if _plain(word.group(1)) in _CLAUSE_WORDS:
            break
        end = word.end()
        if word.group(1)[-1] in ".!?:":
            break
    return end


def _passphrase_follows(more: str) -> bool:
    """Two more plain words that are not part of a complaint: "… correct horse battery"."""
    words = more.split()[:2]
    return len(words) == 2 and all(
        word.isalpha() and word.lower() not in _NOT_A_SECRET and word.lower() not in _CLAUSE_WORDS
        for word in words
    )


def _password(match: re.Match[str]) -> tuple[str, int] | None:
    """(replacement of the match, how many characters after it the secret goes on), or None."""
    keyword, lead, secret, more = match.group("keyword", "lead", "secret", "more")
    sure = secret[0] in "\"'" or ":" in lead or "=" in lead
    if not sure and lead.strip():  # "my password is ..."
        if _plain(secret) in _NOT_A_SECRET and not _passphrase_follows(more):
            return None  # "my password is wrong", but not "my password is correct horse battery staple"
        sure = True
    elif not sure and not _looks_like_secret(secret):  # "password reset" stays, "pin 1234" goes
        return None
    # A password that looks like one is one word; plain words may be a passphrase.
    plain = sure and secret[0] not in "\"'" and not _looks_like_secret(secret)
    end = _passphrase_end(secret, more) if plain else 0
    comma = secret[-1] if secret[-1] in ",;" and not end else ""  # "pin 1234, thanks": the comma stays
    return f"{keyword}{lead}{REDACTED}{comma}", end


def _passwords(text: str) -> str:
    """Apply :data:`_PASSWORD`; a passphrase may run past the match (the lookahead ``more``)."""
    out, pos = [], 0
    while (match := _PASSWORD.search(text, pos)) is not None:
        found = _password(match)
        if found is None:  # not a secret: look again right after the keyword
            out.append(text[pos : match.end("keyword")])
            pos = match.end("keyword")
            continue
        replacement, beyond = found
        note_removed(text[match.start() : match.end() + beyond], replacement)
        out.append(text[pos : match.start()] + replacement)
        pos = match.end() + beyond
    return "".join(out) + text[pos:]


def _code(match: re.Match[str]) -> str:
    keyword, lead, secret = match.group("keyword", "lead", "secret")
    bare = keyword.lower().rstrip("s") in ("code", "código", "codigo", "tan", "otp")
    if not any(char.isdigit() for char in secret):
        return match.group(0)  # "the code is blue", "verification code: sent"
    if bare:
        if not secret.replace(" ", "").replace("-", "").isdigit():
            return match.group(0)  # "code ABC123" may be a product code
        before = match.string[max(0, match.start() - 30) : match.start()].split()
        if before and _plain(before[-1]) in _NOT_A_SECRET_CODE:
            return match.group(0)  # "zip code 94043", "error code 1234"
    return f"{keyword}{lead}{REDACTED}"


_PASSWORD_HINTS = ("pass", "pw", "pin", "kennwort", "geheimzahl", "code", "contrase", "clave")
_CODE_HINTS = ("code", "otp", "tan", "digo")


def _passwords_if_mentioned(text: str) -> str:
    lowered = text.lower()
    return _passwords(text) if any(hint in lowered for hint in _PASSWORD_HINTS) else text


KEYWORD_RULES: tuple[Rule, ...] = (_passwords_if_mentioned, substitute(_CODE, _code, _CODE_HINTS))
