"""Tables of the handoff: who has which conversation, the thread mapping, the local inbox.

They live in the shared database (bot/db.py: SQLite by default, PostgreSQL in production),
so handoff state and the Slack thread mapping survive restarts and are shared by every
process: the action server opens handoffs, the relay works them. What still has to be
delivered lives in the shared outbox table (bot/outbox.py); how far the relay has read
Rasa's events, in the stream cursors (bot/stream_cursors.py). A change here needs a
migration (``python -m bot db revision -m "..."``).
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, Integer, String, Text

from bot.db import Base


class Handoff(Base):
    """One request for a person, from the moment the bot asks until an agent resolves it."""

    __tablename__ = "handoffs"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(200), nullable=False, index=True)  # Rasa sender id
    channel = Column(String(50), nullable=False)  # the customer's input channel
    customer_id = Column(Integer, nullable=True)
    reason = Column(Text, nullable=False)
    # A bot.handoff.states.HandoffStatus value; the transitions are the functions there.
    status = Column(String(20), nullable=False, index=True)
    packet = Column(JSON, nullable=False)  # ContextPacket.to_dict(), for the card
    # Customer messages newer than this Rasa event timestamp are relayed to the thread
    # (older ones are already on the card).
    relay_after = Column(Float, nullable=False)
    desk_channel = Column(String(100), nullable=True)  # Slack channel id of the card
    # Where business.yml ``routing:`` sent it (bot/handoff/routing.py), decided when it opened:
    # the team, the human reason ("rule 'billing': intent billing_dispute") and the team's
    # Slack user group to mention on the new card. All None without routing rules.
    team = Column(String(100), nullable=True, index=True)
    routing_why = Column(Text, nullable=True)
    notify_group = Column(String(50), nullable=True)
    card_ts = Column(String(50), nullable=True, index=True)  # Slack ts = thread id
    claimed_by = Column(String(100), nullable=True)  # agent user id
    claimed_by_name = Column(String(200), nullable=True)
    resolved_by_name = Column(String(200), nullable=True)
    followup_message = Column(Text, nullable=True)
    created_at = Column(DateTime, nullable=False)
    claimed_at = Column(DateTime, nullable=True)
    resolved_at = Column(DateTime, nullable=True)


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
    # The outbox item that posted it (bot/outbox.py OutboxRecord.key): each delivery posts once.
    delivery_key = Column(String(250), nullable=True, unique=True, index=True)
