"""Proving that a new chat belongs to an account: attempt limits and one-time codes.

Why: someone writing from a new channel (a new X account, a new browser) is a stranger to
us. Knowing an order number and an email is not proof (both travel in screenshots and
forwarded mails), and a chat that answers "not found" / "wrong email" differently and
without limit lets anyone guess both. So:

- every check is one ``identity_checks`` row, counted per sender, per order number and in
  total within :data:`WINDOW`; beyond a limit nothing is checked and nothing is sent;
- the row is written the same way whether or not the order exists and the email matches
  (a random code's hash when nothing matched), so the chat can answer identically;
- only when the email is the order owner's is a code mailed to that address: 6 digits,
  :data:`CODE_LIFETIME`, :data:`MAX_CODE_ATTEMPTS` tries, stored only as a salted hash;
- only the right code links the chat (in the same transaction that marks the check used).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, func, select, text
from sqlalchemy.orm import Session

from bot.customers.models import Customer, Identity, Order
from bot.db import Base, Database

WINDOW = timedelta(hours=1)
MAX_CHECKS_PER_SENDER = 5  # one chat trying emails or order numbers
MAX_CHECKS_PER_ORDER = 5  # many chats (fresh web-chat ids are free) guessing one order's email
MAX_CHECKS_IN_WINDOW = 200  # everyone together: a ceiling on mass guessing across orders
CODE_LIFETIME = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 3
CODE_DIGITS = 6
# A leaked hash is useless after CODE_LIFETIME; the work factor only has to outlast that.
HASH_ITERATIONS = 60_000


class Outcome:
    """What became of a check (``None`` in the table: still waiting for its code)."""

    LINKED = "linked"
    FAILED = "failed"  # too many wrong codes
    EXPIRED = "expired"
    REPLACED = "replaced"  # the same chat started a new check
    STOPPED = "stopped"  # the customer wrote something that is not a code


class IdentityCheck(Base):
    """One attempt to prove that a chat belongs to the account of an order."""

    __tablename__ = "identity_checks"
    __table_args__ = (
        Index("ix_identity_checks_sender", "channel", "sender_id", "created_at"),
        Index("ix_identity_checks_order", "order_number", "created_at"),
        Index("ix_identity_checks_created_at", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    channel = Column(String(50), nullable=False)
    sender_id = Column(String(200), nullable=False)
    order_number = Column(String(20), nullable=False)  # as asked for; may name no order at all
    # The order's owner, set only when the email typed was theirs (then a code was mailed).
    customer_id = Column(Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=True)
    code_hash = Column(String(200), nullable=False)
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False)
    code_attempts = Column(Integer, nullable=False, default=0)
    outcome = Column(String(20), nullable=True)


@dataclass(frozen=True)
class CheckStarted:
    """The result of asking for a code: refused by a limit, or started (mailed or not)."""

    limited: bool
    code: str | None = None  # to mail: only when the email was the owner's
    email: str | None = None  # the owner's address (the one typed, matched)
    first_name: str | None = None


@dataclass(frozen=True)
class CodeChecked:
    """The result of a code typed into the chat."""

    outcome: str  # "linked", "wrong", Outcome.FAILED or Outcome.EXPIRED (also: no check open)
    tries_left: int = 0
    customer_id: int | None = None
    order_number: str | None = None
    email: str | None = None
    first_name: str | None = None


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_code(code: str, salt: bytes | None = None) -> str:
    """``pbkdf2_sha256$iterations$salt$hash``: what the table keeps instead of the code."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", code.encode(), salt, HASH_ITERATIONS)
    return f"pbkdf2_sha256${HASH_ITERATIONS}${salt.hex()}${digest.hex()}"


def code_matches(code: str, stored: str) -> bool:
    try:
        _, iterations, salt, expected = stored.split("$")
        digest = hashlib.pbkdf2_hmac("sha256", code.encode(), bytes.fromhex(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


def _first_name(name: str | None) -> str | None:
    return name.split()[0] if name else None


class IdentityChecks:
    """The checks on one database (cheap to create; engines are shared per URL)."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)

    def start(
        self, channel: str, sender_id: str, order_number: str, email: str, now: datetime | None = None
    ) -> CheckStarted:
        """Count the attempt and, if no limit is reached, open a check (with a code to mail on a match)."""
        now = now or _utcnow()
        with self.db.session() as session:
            _serialise_checks(session)
            if self._limited(session, channel, sender_id, order_number, now):
                return CheckStarted(limited=True)
            for row in self._open(session, channel, sender_id):
                row.outcome = Outcome.REPLACED
            owner = self._owner_if_email_matches(session, order_number, email)
            code = new_code()
            session.add(
                IdentityCheck(
                    channel=channel,
                    sender_id=sender_id,
                    order_number=order_number,
                    customer_id=owner.id if owner else None,
                    code_hash=hash_code(code),  # hashed either way: the same work, the same row
                    created_at=now,
                    expires_at=now + CODE_LIFETIME,
                    code_attempts=0,
                )
            )
            if owner is None:
                return CheckStarted(limited=False)
            return CheckStarted(
                limited=False, code=code, email=owner.email, first_name=_first_name(owner.name)
            )

    def check_code(self, channel: str, sender_id: str, code: str, now: datetime | None = None) -> CodeChecked:
        """Compare a typed code with the chat's open check; the right one links the chat."""
        now = now or _utcnow()
        with self.db.session() as session:
            rows = self._open(session, channel, sender_id)
            row = rows[0] if rows else None
            if row is None or row.expires_at <= now:
                if row is not None:
                    row.outcome = Outcome.EXPIRED
                return CodeChecked(outcome=Outcome.EXPIRED)
            row.code_attempts += 1
            right = code_matches(code.strip(), row.code_hash) and row.customer_id is not None
            if right:
                row.outcome = Outcome.LINKED
                owner = session.get(Customer, row.customer_id)
                _link(session, row.customer_id, channel, sender_id)
                return CodeChecked(
                    outcome=Outcome.LINKED,
                    customer_id=row.customer_id,
                    order_number=row.order_number,
                    email=owner.email if owner else None,
                    first_name=_first_name(owner.name if owner else None),
                )
            tries_left = MAX_CODE_ATTEMPTS - row.code_attempts
            if tries_left <= 0:
                row.outcome = Outcome.FAILED
                return CodeChecked(outcome=Outcome.FAILED)
            return CodeChecked(outcome="wrong", tries_left=tries_left)

    def stop(self, channel: str, sender_id: str) -> None:
        """Close the chat's open check (the customer moved on); a later code does nothing."""
        with self.db.session() as session:
            for row in self._open(session, channel, sender_id):
                row.outcome = Outcome.STOPPED

    # --- internals ----------------------------------------------------------------------

    @staticmethod
    def _limited(session: Session, channel: str, sender_id: str, order_number: str, now: datetime) -> bool:
        since = now - WINDOW
        recent = select(func.count(IdentityCheck.id)).where(IdentityCheck.created_at > since)
        by_sender = recent.where(IdentityCheck.channel == channel, IdentityCheck.sender_id == sender_id)
        by_order = recent.where(IdentityCheck.order_number == order_number)
        return (
            (session.scalar(by_sender) or 0) >= MAX_CHECKS_PER_SENDER
            or (session.scalar(by_order) or 0) >= MAX_CHECKS_PER_ORDER
            or (session.scalar(recent) or 0) >= MAX_CHECKS_IN_WINDOW
        )

    @staticmethod
    def _open(session: Session, channel: str, sender_id: str) -> list[IdentityCheck]:
        return list(
            session.scalars(
                select(IdentityCheck)
                .where(
                    IdentityCheck.channel == channel,
                    IdentityCheck.sender_id == sender_id,
                    IdentityCheck.outcome.is_(None),
                )
                .order_by(IdentityCheck.created_at.desc(), IdentityCheck.id.desc())
                .with_for_update()
            ).all()
        )

    @staticmethod
    def _owner_if_email_matches(session: Session, order_number: str, email: str) -> Customer | None:
        order = session.scalar(select(Order).where(Order.number == order_number))
        owner = session.get(Customer, order.customer_id) if order is not None else None
        typed = email.strip().lower()
        if owner is None or not owner.email or not typed:
            return None
        return owner if hmac.compare_digest(owner.email.strip().lower().encode(), typed.encode()) else None


# pg_advisory_xact_lock key of identity checks (any fixed number no other lock uses).
CHECKS_LOCK_KEY = 0x1D3C_4EC5


def _serialise_checks(session: Session) -> None:
    """One check starts at a time, so a burst cannot count under a limit and all insert over it.

    PostgreSQL (production, many replicas' action servers): a transaction-level advisory
    lock, held until the row is committed. The embedded SQLite file has one action server,
    whose checks of one conversation Rasa's lock already runs one at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHECKS_LOCK_KEY})


def _link(session: Session, customer_id: int, channel: str, sender_id: str) -> None:
    """Point this chat's identity at the verified customer (creating it if it is new)."""
    existing = session.scalar(
        select(Identity).where(Identity.channel == channel, Identity.external_id == sender_id)
    )
    if existing is None:
        session.add(Identity(customer_id=customer_id, channel=channel, external_id=sender_id))
    else:
        existing.customer_id = customer_id
