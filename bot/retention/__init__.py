"""Retention and erasure: how long each kind of data is kept, and one customer's data on request.

- ``policy``: the ``retention:`` section of business.yml and the pure decisions (what is
  old enough to prune), tested without a database.
- ``rasa_tables``: where Rasa keeps conversations (its SQL tracker store) and events (its
  SQL event broker), read from the endpoints file Rasa runs with; plain SQL on Rasa's tables.
- ``prune``: the pruning job (the worker runs it periodically; ``python -m bot prune`` for cron).
- ``erasure``: ``python -m bot export`` / ``erase`` for one customer, every table covered by
  its columns (``customer_id``, ``conversation_id``, ``sender_id``, ``email``, foreign keys).
- ``audit``: one line per erase or prune run, counts only, never the data.
"""
