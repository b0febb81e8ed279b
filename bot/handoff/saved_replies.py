"""Saved replies: the support lead's library of answers (``saved_replies.yml``), searched and filled in.

Why a file and not Python: the lead words what customers read and adds a reply without a
release; the worker loads it at start, and every mistake (an unknown ``{placeholder}``, a
duplicate id, a missing title) fails the load with the key and the fix, like business.yml
``routing:`` does. Pure: the Slack listeners (bot/handoff/desks/slack/saved_reply_listeners.py)
do the asking and the sending.

A reply is filled in from the handoff's context packet (bot/context.py ``ContextPacket.to_dict``):
the customer's first name, the order the conversation is about and its tracking, its open
return. When a value is not known, :func:`render` refuses and says which one and why, so a
customer never reads ``{order_number}``. Values the customer could have written (their name)
are redacted (bot.redact), like everything else of theirs that reaches a desk.
"""

from __future__ import annotations

import re
import string
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.business import BusinessSettings, BusinessSettingsError
from bot.customers import normalise_order_number
from bot.redact import redact
from bot.settings import expand, settings

# What a reply's text may use, and what the agent is told each one is.
PLACEHOLDERS = {
    "first_name": "the customer's first name",
    "order_number": "the order number",
    "items": "the order's items",
    "carrier": "the order's carrier",
    "tracking_number": "the tracking number",
    "tracking_link": "the tracking link",
    "return_id": "the return number",
    "return_label": "the return label link",
    "plan": "the customer's plan",
    "refund_days": "the refund time",
    "return_window_days": "the return window",
    "agent_name": "your name",
}
LINK_PLACEHOLDERS = {"tracking": ("tracking_number",), "return_label": ("return_id", "order_number")}
OPEN_RETURNS = frozenset({"label_sent", "received"})  # bot/customers/store.py return statuses
REPLY_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
TITLE_LIMIT = 75  # a Slack select option's text
TEXT_LIMIT = 2000
WORD = re.compile(r"\w+")


class SavedRepliesError(BusinessSettingsError):
    """saved_replies.yml cannot work; the message names the key and the fix."""


@dataclass(frozen=True)
class SavedReply:
    id: str
    title: str
    text: str
    keywords: tuple[str, ...] = ()

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for _, name, _, _ in string.Formatter().parse(self.text) if name))


@dataclass(frozen=True)
class Library:
    replies: tuple[SavedReply, ...] = ()
    tracking_links: Mapping[str, str] = field(default_factory=dict)  # carrier (lower case) -> template
    return_label_link: str | None = None

    def get(self, reply_id: str) -> SavedReply | None:
        return next((reply for reply in self.replies if reply.id == reply_id), None)

    def search(self, query: str, limit: int = 100) -> list[SavedReply]:
        """Replies matching every word of ``query`` (a prefix of a word of the title, keywords or
        text), best first: the id itself, then title words, keywords, text. No words: all, in order."""
        words = [word.lower() for word in WORD.findall(query)]
        if not words:
            return list(self.replies[:limit])
        scored = []
        for index, reply in enumerate(self.replies):
            keywords = {word for keyword in reply.keywords for word in WORD.findall(keyword)}
            fields_ = (
                set(WORD.findall(reply.title.lower())),
                keywords,
                set(WORD.findall(reply.text.lower())),
            )
            score = 0
            for word in words:
                hits = [weight for weight, found in zip((3, 2, 1), fields_, strict=True)
                        if any(candidate.startswith(word) for candidate in found)]  # fmt: skip
                if not hits:
                    break
                score += max(hits)
            else:
                exact = 100 if " ".join(words) == reply.id.replace("-", " ").replace("_", " ") else 0
                scored.append((-(score + exact), index, reply))
        return [reply for *_, reply in sorted(scored)][:limit]


# --------------------------------------------------------------------------- loading


def saved_replies_file() -> Path:
    """``SUPPORTBOT_SAVED_REPLIES_FILE`` or ``saved_replies.yml`` in the project root."""
    return settings().saved_replies_file


def load_saved_replies(path: Path | None = None) -> Library:
    """The library in ``path`` (default :func:`saved_replies_file`); empty if the default file is absent."""
    configured = path or settings().paths.saved_replies_file
    path = path or saved_replies_file()
    if not path.is_file():
        if configured:
            raise SavedRepliesError(
                f"SUPPORTBOT_SAVED_REPLIES_FILE={str(path)!r} is not a file; point it at a copy of "
                "saved_replies.yml or unset it"
            )
        return Library()
    return _load(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load(path: Path, _mtime: int) -> Library:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SavedRepliesError(f"{path}: not valid YAML ({exc}); check the quotes and indentation") from exc
    return parse_saved_replies(expand(document, where=path.name), where=str(path))


def _fail(where: str, key: str, problem: str) -> SavedRepliesError:
    return SavedRepliesError(f"{where}: {key} {problem} (docs/slack.md, 'Saved replies')")


def _only(raw: Mapping[str, Any], known: Sequence[str], where: str, key: str) -> None:
    unknown = sorted(str(name) for name in set(raw) - set(known))
    if unknown:
        raise _fail(where, key, f"has unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")


def _template(value: Any, allowed: Sequence[str], where: str, key: str) -> str:
    """A text with ``{placeholders}``: only ``allowed`` names, no formatting tricks."""
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, key, f"must be a text, not {value!r}")
    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise _fail(where, key, f"has a stray brace ({exc}); write {{{{ or }}}} for a literal one") from exc
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in allowed:
            known = ", ".join("{" + n + "}" for n in allowed)
            raise _fail(where, key, f"uses unknown placeholder {{{name}}}; known: {known}")
        if spec or conversion:
            raise _fail(where, key, f"writes {{{name}}} with a format; write just {{{name}}}")
    return value.strip()


def _reply(index: int, raw: Any, where: str, seen: set[str]) -> SavedReply:
    key = f"replies[{index}]"
    if not isinstance(raw, Mapping):
        raise _fail(where, key, f"must be a mapping with id, title, keywords and text, not {raw!r}")
    _only(raw, ("id", "title", "keywords", "text"), where, key)
    reply_id = str(raw.get("id") or "").strip()
    if not REPLY_ID.fullmatch(reply_id):
        raise _fail(
            where,
            f"{key}.id",
            f"must be lower-case letters, digits, - or _ (e.g. tracking), not {reply_id!r}",
        )
    if reply_id in seen:
        raise _fail(where, f"{key}.id", f"{reply_id!r} is used twice; ids must be unique")
    seen.add(reply_id)
    title = str(raw.get("title") or "").strip()
    if not title or len(title) > TITLE_LIMIT:
        raise _fail(where, f"{key}.title", f"must be a title of 1 to {TITLE_LIMIT} characters, not {title!r}")
    keywords = raw.get("keywords") or []
    if not isinstance(keywords, list) or any(isinstance(k, Mapping | list) for k in keywords):
        raise _fail(where, f"{key}.keywords", f"must be a list of words, not {keywords!r}")
    text = _template(raw.get("text"), tuple(PLACEHOLDERS), where, f"{key}.text")
    if len(text) > TEXT_LIMIT:
        raise _fail(where, f"{key}.text", f"is {len(text)} characters; keep it under {TEXT_LIMIT}")
    return SavedReply(
        reply_id, title, text, tuple(str(k).strip().lower() for k in keywords if str(k).strip())
    )


def parse_saved_replies(raw: Any, where: str = "saved_replies.yml") -> Library:
    """The typed library from the file's mapping; errors name the key and the fix."""
    if raw is None:
        return Library()
    if not isinstance(raw, Mapping):
        raise SavedRepliesError(f"{where}: must be a mapping with 'replies' (and 'links'), not {raw!r}")
    _only(raw, ("replies", "links"), where, "the file")
    links = raw.get("links") or {}
    if not isinstance(links, Mapping):
        raise _fail(where, "links", "must be a mapping with tracking and return_label")
    _only(links, tuple(LINK_PLACEHOLDERS), where, "links")
    tracking = links.get("tracking") or {}
    if not isinstance(tracking, Mapping):
        raise _fail(
            where, "links.tracking", "must map carrier names to links, e.g. UPS: https://…{tracking_number}"
        )
    tracking_links = {
        str(carrier).strip().lower(): _template(
            url, LINK_PLACEHOLDERS["tracking"], where, f"links.tracking.{carrier}"
        )
        for carrier, url in tracking.items()
    }
    label = links.get("return_label")
    label = (
        _template(label, LINK_PLACEHOLDERS["return_label"], where, "links.return_label") if label else None
    )
    replies_raw = raw.get("replies") or []
    if not isinstance(replies_raw, list):
        raise _fail(where, "replies", "must be a list of replies (id, title, keywords, text)")
    seen: set[str] = set()
    replies = tuple(_reply(index, item, where, seen) for index, item in enumerate(replies_raw))
    return Library(replies, tracking_links, label)


# --------------------------------------------------------------------------- filling in


@dataclass(frozen=True)
class Rendered:
    """A reply filled in for one handoff: ``text`` to send, or what is missing (``problems``)."""

    reply: SavedReply
    text: str | None
    problems: tuple[str, ...] = ()
    order_number: str | None = None


def orders_of(packet: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        order for order in packet.get("orders") or () if isinstance(order, Mapping) and order.get("number")
    ]


def conversation_order(packet: Mapping[str, Any], chosen: str | None = None) -> Mapping[str, Any] | None:
    """The order a reply is about: the agent's pick, else the one the conversation names (verified
    as the customer's own by bot/context.py), else the customer's only order."""
    orders = {str(order["number"]): order for order in orders_of(packet)}
    for number in (chosen, (packet.get("slots") or {}).get("order_number")):
        if number and normalise_order_number(str(number)) in orders:
            return orders[normalise_order_number(str(number))]
    return next(iter(orders.values())) if len(orders) == 1 else None


def _items(order: Mapping[str, Any]) -> str:
    parts = []
    for item in order.get("items") or ():
        if isinstance(item, Mapping):
            quantity, product = int(item.get("quantity") or 1), str(item.get("product") or "")
            parts.append(f"{quantity} × {product}" if quantity > 1 else product)
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] if parts else ""


def fill_values(
    packet: Mapping[str, Any],
    library: Library,
    *,
    order_number: str | None = None,
    agent_name: str | None = None,
    business: BusinessSettings | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """(placeholder -> value, placeholder -> why it has none) for one handoff."""
    values: dict[str, str] = {}
    why: dict[str, str] = {}
    customer = packet.get("customer") if isinstance(packet.get("customer"), Mapping) else None
    name = str((customer or {}).get("name") or "").strip()
    if name:
        values["first_name"] = redact(name.split()[0])
    else:
        why["first_name"] = "this customer's name is not known (no account linked to the chat)"
    if customer and customer.get("plan"):
        values["plan"] = redact(str(customer["plan"]))
    else:
        why["plan"] = "this customer has no plan on record"
    if agent_name:
        values["agent_name"] = agent_name
    if business is not None:
        values["refund_days"], values["return_window_days"] = (
            business.refund_days,
            str(business.return_window_days),
        )
    order = conversation_order(packet, order_number)
    if order is None:
        count = len(orders_of(packet))
        problem = "pick one of the customer's orders" if count else "this customer has no orders on record"
        for key in ("order_number", "items", "carrier", "tracking_number", "tracking_link", "return_id",
                    "return_label"):  # fmt: skip
            why[key] = f"no order is known for this conversation: {problem}"
        return values, why
    number = str(order["number"])
    values["order_number"] = number
    values["items"] = _items(order) or number
    carrier, tracking = str(order.get("carrier") or ""), str(order.get("tracking_number") or "")
    for key, value, missing in (("carrier", carrier, "has not shipped yet (no carrier)"),
                                ("tracking_number", tracking, "has no tracking number yet")):  # fmt: skip
        if value:
            values[key] = value
        else:
            why[key] = f"order {number} {missing}"
    link = library.tracking_links.get(carrier.lower()) if carrier else None
    if not tracking:
        why["tracking_link"] = f"order {number} has no tracking number yet"
    elif link is None:
        why["tracking_link"] = (
            f"no tracking link for carrier {carrier or '(none)'!r} in saved_replies.yml links.tracking"
        )
    else:
        values["tracking_link"] = link.format(tracking_number=urllib.parse.quote(tracking, safe=""))
    returns = [
        r for r in order.get("returns") or () if isinstance(r, Mapping) and r.get("status") in OPEN_RETURNS
    ]
    if not returns:
        why["return_id"] = why["return_label"] = f"order {number} has no open return"
        return values, why
    return_id = f"R-{int(returns[-1].get('id') or 0):05d}"  # as actions/returns.py tells the customer
    values["return_id"] = return_id
    if library.return_label_link:
        quoted = {"return_id": urllib.parse.quote(return_id), "order_number": urllib.parse.quote(number)}
        values["return_label"] = library.return_label_link.format(**quoted)
    else:
        why["return_label"] = "links.return_label is not set in saved_replies.yml"
    return values, why


def render(reply: SavedReply, values: Mapping[str, str], why: Mapping[str, str] | None = None) -> Rendered:
    """The reply filled in, or refused with one line per missing value (never a bare ``{name}``)."""
    missing = [name for name in reply.placeholders if not str(values.get(name) or "").strip()]
    if missing:
        problems = tuple(
            f"{PLACEHOLDERS.get(name, name)} ({{{name}}}): {(why or {}).get(name, 'not known here')}"
            for name in missing
        )
        return Rendered(reply, None, problems, values.get("order_number"))
    return Rendered(reply, reply.text.format_map(dict(values)), (), values.get("order_number"))
