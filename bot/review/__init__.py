"""Learning from what the bot missed: group the questions it did not understand, suggest fixes.

``python -m bot review-misses`` (bot/review/cli.py) reads the stored conversations
(bot/review/misses.py), embeds the missed first messages with the NLU's encoder
(bot/review/embeddings.py), groups them (bot/review/clustering.py), suggests an intent to
extend, a new intent or a help-center article for each group (bot/review/suggestions.py,
bot/review/building.py) and writes the review file (bot/review/review_file.py).
``python -m bot review-accept`` turns a group into Rasa NLU examples or an article
(bot/review/accept.py); the weekly digest lists the newest review's top groups
(bot/review/digest.py). How a support lead uses it: docs/make-it-yours.md.
"""
