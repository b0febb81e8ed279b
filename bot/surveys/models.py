"""The survey table: every survey the bot asked, and the one answer it counts.

One row per conversation at most (``conversation_key`` is unique): a conversation is asked
at most one survey, and a customer who answers twice (a double tap on a button, "5" and
then "4") is counted once — the first answer wins, later ones change nothing. The row
carries what the report needs to split the answer without reading the conversation again:
channel, whether a person was involved and who, the handoff reason and the intents.

``status`` moves ``asked`` → ``answered`` | ``declined`` | ``ignored`` (the customer changed
the subject, or never answered before the survey expired). Comments are redacted
(``bot.redact``) before they are stored.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Integer, String, Text

from bot.db import Base

ASKED = "asked"
ANSWERED = "answered"
DECLINED = "declined"
IGNORED = "ignored"
STATUSES = (ASKED, ANSWERED, DECLINED, IGNORED)

CSAT = "csat"  # 1..5, 4-5 satisfied
NPS = "nps"  # 0..10, 9-10 promoters, 0-6 detractors
CES = "ces"  # 1..7 agree scale ("made it easy")
KINDS = (CSAT, NPS, CES)

BOT_RESOLVED = "bot_resolved"  # the bot helped and the customer said thanks / goodbye
AFTER_AGENT = "after_agent"  # an agent resolved a handoff and the bot spoke again
TRIGGERS = (BOT_RESOLVED, AFTER_AGENT)


class SurveyRequest(Base):
    """One survey asked in one conversation, and its answer."""

    __tablename__ = "survey_requests"

    id = Column(Integer, primary_key=True)
    # "<Rasa sender id>@<session start, Unix seconds>": the conversation (Rasa session) asked.
    conversation_key = Column(String(250), nullable=False, unique=True)
    conversation_id = Column(String(200), nullable=False, index=True)  # the Rasa sender id
    # "customer:<id>" when the customer is known (throttling across channels), else "sender:<id>".
    customer_key = Column(String(250), nullable=False, index=True)
    channel = Column(String(50), nullable=False)
    kind = Column(String(10), nullable=False)  # CSAT, NPS or CES
    trigger = Column(String(20), nullable=False)  # BOT_RESOLVED or AFTER_AGENT
    handoff_id = Column(Integer, nullable=True)
    agent_name = Column(String(200), nullable=True)
    handoff_reason = Column(Text, nullable=True)
    intents = Column(JSON, nullable=False)  # the customer's intents in the conversation, in order
    status = Column(String(10), nullable=False, index=True)
    score = Column(Integer, nullable=True)
    comment = Column(Text, nullable=True)  # redacted
    asked_at = Column(DateTime, nullable=False, index=True)  # UTC, naive (as every table here)
    answered_at = Column(DateTime, nullable=True)
    commented_at = Column(DateTime, nullable=True)
    followed_up = Column(Boolean, nullable=False, default=False)  # a detractor posted for follow-up
