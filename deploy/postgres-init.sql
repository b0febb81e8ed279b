-- Second database for Rasa's SQL event broker (its table is called "events", like the
-- tracker store's), followed by the handoff relay.
CREATE DATABASE supportbot_events OWNER supportbot;
