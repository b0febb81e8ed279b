"""Agent accounts of the local inbox: who may read handoffs and answer customers there.

Why accounts at all: the inbox shows customers' names, emails, orders and conversations,
and a reply is sent to the customer in the brand's name. Without a login anyone who can
reach the worker's port could do both, under any name. So:

- passwords are stored only as ``hashlib.scrypt`` hashes with a random salt per agent
  (no new dependency; the cost is written next to the hash so it can be raised later);
- a session is a random token in an HttpOnly cookie; only its SHA-256 is stored, so a
  copy of the database does not let anyone in; it expires (``INBOX_SESSION_HOURS``);
- the CSRF token of a session is derived from the session token (an HMAC), so nothing
  more is stored and it changes with every login;
- failed logins are counted per account name (existing or not, so the limit does not
  reveal which names exist): after :data:`MAX_FAILURES` in :data:`FAILURE_WINDOW` the name
  is refused until the window has passed, even with the right password.

The name an agent signs replies, claims and resolutions with is the account's name,
never anything a request says.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, delete, func, select, text
from sqlalchemy.orm import Session

from bot.db import Base, Sessions

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10
NAME_LIMIT = 80
# scrypt cost: 16 MiB and ~50 ms per check on one core; stored with each hash.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SESSION_BYTES = 32


class InboxAgent(Base):
    """One person who may work handoffs in the local inbox."""

    __tablename__ = "inbox_agents"

    id = Column(Integer, primary_key=True)
    name = Column(String(NAME_LIMIT), nullable=False, unique=True)  # shown to customers
    password_hash = Column(String(255), nullable=False)  # scrypt$n$r$p$salt$hash (base64)
    created_at = Column(DateTime, nullable=False)


class InboxSession(Base):
    """A logged-in browser: the SHA-256 of its cookie, whose account, until when."""

    __tablename__ = "inbox_sessions"

    token_hash = Column(String(64), primary_key=True)
    agent_id = Column(Integer, ForeignKey("inbox_agents.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False, index=True)


LOGIN_LOCK_KEY = 0x1B0C_7A11  # pg_advisory_xact_lock key of inbox logins (no other lock uses it)


class InboxLoginFailure(Base):
    """A wrong password for a name, kept for :data:`FAILURE_WINDOW` (the login rate limit)."""

    __tablename__ = "inbox_login_failures"

    id = Column(Integer, primary_key=True)
    name = Column(String(NAME_LIMIT), nullable=False, index=True)  # as typed (normalised), may not exist
    failed_at = Column(DateTime, nullable=False)


class AccountError(ValueError):
    """A name or password that cannot be used; the message says what to change."""


@dataclass(frozen=True)
class Agent:
    id: int
    name: str


@dataclass(frozen=True)
class LoginResult:
    """``agent`` and ``token`` on success; ``limited`` when the name is locked for a while."""

    agent: Agent | None = None
    token: str | None = None
    limited: bool = False


def utcnow() -> datetime:
    """Naive UTC, the way every table of ours stores times."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def normalise_name(name: str) -> str:
    """The account name as stored and looked up: NFC, trimmed, no control characters."""
    value = unicodedata.normalize("NFC", str(name or "")).strip()
    if not value or len(value) > NAME_LIMIT:
        raise AccountError(f"an agent name has 1 to {NAME_LIMIT} characters (customers see it on replies)")
    if any(unicodedata.category(char).startswith("C") for char in value):
        raise AccountError("an agent name cannot contain control characters")
    return value


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)))


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        found = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32
    )


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: only someone who can read the page's API answer knows it."""
    return hmac.new(session_token.encode("utf-8"), b"inbox-csrf", hashlib.sha256).hexdigest()


# Checked against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


class AgentAccounts:
    """The inbox's accounts and sessions; each method is one transaction."""

    def __init__(self, db: Sessions) -> None:
        self.db = db

    # ------------------------------------------------------------------ accounts (the CLI)

    def add(self, name: str, password: str) -> Agent:
        name = normalise_name(name)
        _check_new_password(password)
        with self.db.session() as session:
            if session.scalar(select(InboxAgent.id).where(InboxAgent.name == name)) is not None:
                raise AccountError(
                    f"there is already an agent called {name!r}: `python -m bot agents password {name}` "
                    "sets a new password"
                )
            agent = InboxAgent(name=name, password_hash=hash_password(password), created_at=utcnow())
            session.add(agent)
            session.flush()
            return Agent(agent.id, agent.name)

    def set_password(self, name: str, password: str) -> None:
        """A new password; every session of the account ends (a stolen cookie stops working too),
        and a lock from wrong guesses is lifted (the way back in for an agent an attacker locked out)."""
        _check_new_password(password)
        with self.db.session() as session:
            agent = self._by_name(session, name)
            agent.password_hash = hash_password(password)
            session.execute(delete(InboxSession).where(InboxSession.agent_id == agent.id))
            session.execute(delete(InboxLoginFailure).where(InboxLoginFailure.name == agent.name))

    def remove(self, name: str) -> None:
        with self.db.session() as session:
            agent = self._by_name(session, name)
            session.execute(delete(InboxSession).where(InboxSession.agent_id == agent.id))
            session.delete(agent)

    def names(self) -> list[str]:
        with self.db.session() as session:
            return list(session.scalars(select(InboxAgent.name).order_by(InboxAgent.name)))

    def count(self) -> int:
        with self.db.session() as session:
            return int(session.scalar(select(func.count()).select_from(InboxAgent)) or 0)

    @staticmethod
    def _by_name(session: Session, name: str) -> InboxAgent:
        agent = session.scalar(select(InboxAgent).where(InboxAgent.name == normalise_name(name)))
        if agent is None:
            raise AccountError(f"no agent called {name!r}; `python -m bot agents list` shows them")
        return agent

    # ------------------------------------------------------------------ logins and sessions

    def login(self, name: str, password: str, lifetime: timedelta) -> LoginResult:
        """A new session for the right name and password, unless the name is rate limited."""
        try:
            key = normalise_name(name)
        except AccountError:
            check_password(password, _DUMMY_HASH)
            return LoginResult()
        now = utcnow()
        with self.db.session() as session:
            # One login at a time, so parallel guesses cannot all count under the limit: the
            # DELETE below takes SQLite's write lock first; PostgreSQL needs an explicit lock.
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOGIN_LOCK_KEY})
            session.execute(
                delete(InboxLoginFailure).where(InboxLoginFailure.failed_at < now - FAILURE_WINDOW)
            )
            failures = session.scalar(
                select(func.count()).select_from(InboxLoginFailure).where(InboxLoginFailure.name == key)
            )
            if (failures or 0) >= MAX_FAILURES:
                return LoginResult(limited=True)
            agent = session.scalar(select(InboxAgent).where(InboxAgent.name == key))
            if not check_password(password, agent.password_hash if agent else _DUMMY_HASH) or agent is None:
                session.add(InboxLoginFailure(name=key, failed_at=now))
                return LoginResult()
            session.execute(delete(InboxSession).where(InboxSession.expires_at < now))
            session.execute(delete(InboxLoginFailure).where(InboxLoginFailure.name == key))
            token = secrets.token_urlsafe(SESSION_BYTES)
            session.add(
                InboxSession(
                    token_hash=token_hash(token), agent_id=agent.id, created_at=now, expires_at=now + lifetime
                )
            )
            return LoginResult(agent=Agent(agent.id, agent.name), token=token)

    def session_agent(self, token: str | None) -> Agent | None:
        """The account of a session cookie that exists and has not expired."""
        if not token or len(token) > 200:
            return None
        with self.db.session() as session:
            row = session.execute(
                select(InboxAgent.id, InboxAgent.name)
                .join(InboxSession, InboxSession.agent_id == InboxAgent.id)
                .where(InboxSession.token_hash == token_hash(token), InboxSession.expires_at > utcnow())
            ).first()
            return Agent(row.id, row.name) if row else None

    def logout(self, token: str) -> None:
        with self.db.session() as session:
            session.execute(delete(InboxSession).where(InboxSession.token_hash == token_hash(token)))


def _check_new_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
