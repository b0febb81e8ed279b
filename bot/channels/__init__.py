"""Customer channels: Rasa input/output channels for X, the website chat and REST."""
