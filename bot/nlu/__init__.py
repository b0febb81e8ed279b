"""Custom Rasa NLU components used by the shipped ``config.yml``."""
