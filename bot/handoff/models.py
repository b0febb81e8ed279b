"""Tables of the handoff: who has which conversation, thread mapping, stream cursors.

They live in the customer store's database (SQLite by default, PostgreSQL in production)
and share its schema, so handoff state and the Slack thread mapping survive restarts and
are shared by every process: the action server opens handoffs, the relay works them.
What still has to be delivered lives in the shared outbox table (bot/outbox.py).
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, Integer, String, Text

from bot.customers.models import Base


class Handoff(Base):
    """One request for a person, from the moment the bot asks until an agent resolves it."""

    __tablename__ = "handoffs"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(200), nullable=False, index=True)  # Rasa sender id
    channel = Column(String(50), nullable=False)  # the customer's input channel
    customer_id = Column(Integer, nullable=True)
    reason = Column(Text, nullable=False)
    # waiting → claimed → resolved; waiting → timed_out (no one claimed in time);
    # after_hours (opened outside business hours: the bot took a message instead).
    status = Column(String(20), nullable=False, index=True)
    packet = Column(JSON, nullable=False)  # ContextPacket.to_dict(), for the card
    # Customer messages newer than this Rasa event timestamp are relayed to the thread
    # (older ones are already on the card).
    relay_after = Column(Float, nullable=False)
    desk_channel = Column(String(100), nullable=True)  # Slack channel id of the card
    card_ts = Column(String(50), nullable=True, index=True)  # Slack ts = thread id
    claimed_by = Column(String(100), nullable=True)  # agent user id
    claimed_by_name = Column(String(200), nullable=True)
    resolved_by_name = Column(String(200), nullable=True)
    followup_message = Column(Text, nullable=True)
    created_at = Column(DateTime, nullable=False)
    claimed_at = Column(DateTime, nullable=True)
    resolved_at = Column(DateTime, nullable=True)


class RelayCursor(Base):
    """How far the relay has read a stream (the Rasa event broker table)."""

    __tablename__ = "handoff_cursors"

    name = Column(String(100), primary_key=True)
    position = Column(Integer, nullable=False, default=0)


class DeskMessage(Base):
    """The local agent inbox (used when no Slack workspace is configured): posts and replies."""

    __tablename__ = "desk_messages"

    id = Column(Integer, primary_key=True)
    ts = Column(String(50), nullable=False, unique=True)
    thread_ts = Column(String(50), nullable=True, index=True)
    author = Column(String(200), nullable=False)  # "bot" or the agent's name
    text = Column(Text, nullable=False)
    blocks = Column(JSON, nullable=True)
    created_at = Column(DateTime, nullable=False)
    updated_at = Column(DateTime, nullable=True)
