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
    # When it last joined its team's queue (opened, transferred, handed back): the claim timeout
    # counts from here, the first-reply target from ``created_at`` (the customer's wait).
    queued_at = Column(DateTime, nullable=True)
    # The agents' replies (relay_agent_message): the SLA's first reply, and "still looking" updates.
    first_agent_reply_at = Column(DateTime, nullable=True)
    last_agent_reply_at = Column(DateTime, nullable=True)
    # Each SLA reminder is posted once per target (bot/handoff/sla.py).
    first_reply_warned_at = Column(DateTime, nullable=True)
    resolution_warned_at = Column(DateTime, nullable=True)
    customer_updated_at = Column(DateTime, nullable=True)  # the last "still looking into it" update
    # A transfer re-posts the card in the new team's channel; the old card says where it went.
    transferred_from = Column(String(100), nullable=True)  # the previous team's name
    transfer_note = Column(Text, nullable=True)  # redacted (bot.redact)
    # The cards it had before (``[[channel, ts], …]``): erase deletes those threads too.
    earlier_cards = Column(JSON, nullable=True)


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


class SlackPost(Base):
    """Every message in a handoff's Slack threads we know of: our posts and the agents' messages.

    Why: Slack limits ``conversations.history`` / ``conversations.replies`` to 1 request a
    minute for apps outside its Marketplace, so the desk never reads Slack back for state.
    Our posts are recorded when Slack answers ``chat.postMessage`` and again from the
    ``message_metadata_posted`` event (the outbox's reconciliation after a crash looks the
    delivery key up here); agents' thread messages from their ``message`` events (erase
    deletes them all by ts).
    """

    __tablename__ = "slack_posts"

    id = Column(Integer, primary_key=True)
    channel = Column(String(50), nullable=False)
    ts = Column(String(50), nullable=False)
    thread_ts = Column(String(50), nullable=True, index=True)  # None: a top-level post (a card)
    author = Column(String(100), nullable=False)  # "bot" or the agent's Slack user id
    delivery_key = Column(String(250), nullable=True, unique=True)  # our posts: the outbox item's key
    created_at = Column(DateTime, nullable=False)


class SlackHomeView(Base):
    """Agents who opened the app's Home tab: whose queue view is kept up to date, and how it was last."""

    __tablename__ = "slack_home_views"

    user_id = Column(String(50), primary_key=True)
    opened_at = Column(DateTime, nullable=False)
    published_at = Column(DateTime, nullable=True)
    published_hash = Column(String(64), nullable=True)  # the last view published: unchanged, not sent
