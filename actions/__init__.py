"""Custom actions for the Hearthlink assistant (served by ``rasa run actions``)."""
