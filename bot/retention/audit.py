"""The audit trail of retention: one line per erase or prune run, with counts, never the data.

Why a table: an erasure request has to be provable later ("what did you remove, and when?")
without keeping what was removed. So a line names the action, the internal customer
number (meaningless once the customer is gone) and how many rows each table lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Integer, String, select
from sqlalchemy.orm import Session

from bot.db import Base, Sessions
from bot.outbox import utcnow


class RetentionAudit(Base):
    __tablename__ = "retention_audit"

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False)
    action = Column(String(20), nullable=False)  # "erase" or "prune"
    subject = Column(String(100), nullable=True)  # "customer #12", "conversation(s) 2"; never a name or email
    counts = Column(JSON, nullable=False)  # {"table": rows removed, ...}


def audit_line(action: str, subject: str | None, counts: dict[str, int], at: datetime) -> str:
    """``2026-12-01T16:00:00Z erase customer #12: customers=1 identities=2 …`` (zero counts left out)."""
    removed = " ".join(f"{name}={count}" for name, count in sorted(counts.items()) if count) or "nothing"
    return f"{at:%Y-%m-%dT%H:%M:%SZ} {action}{' ' + subject if subject else ''}: {removed}"


def record(session: Session, action: str, subject: str | None, counts: dict[str, int]) -> str:
    """Store one audit line in the caller's transaction; returns it as printed."""
    at = utcnow()
    session.add(RetentionAudit(at=at, action=action, subject=subject, counts=dict(counts)))
    return audit_line(action, subject, counts, at)


def recent(db: Sessions, limit: int = 20) -> list[dict[str, Any]]:
    """The newest audit lines (for operators and tests)."""
    with db.session() as session:
        rows = session.scalars(select(RetentionAudit).order_by(RetentionAudit.id.desc()).limit(limit))
        return [
            {"at": row.at, "action": row.action, "subject": row.subject, "counts": dict(row.counts),
             "line": audit_line(row.action, row.subject, dict(row.counts), row.at)}
            for row in rows
        ]  # fmt: skip
