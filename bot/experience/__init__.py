"""Customer-experience measurement: figures computed from the stored conversations, never estimated.

The pipeline is a thin loader around pure functions, so every figure can be checked on a
fixture by hand:

- :mod:`bot.experience.tracker_events` reads Rasa's tracker store, the handoffs, the survey
  answers and the customer identities (the only I/O);
- :mod:`bot.experience.conversations` turns one sender's events into conversations (Rasa
  sessions), each a frozen record of facts;
- :mod:`bot.experience.measures` holds the arithmetic (NPS, CSAT, medians, rates) and
  :mod:`bot.experience.periods` the calendar (business timezone, DST, business hours);
- :mod:`bot.experience.report` builds the one report dict that the HTML report, the
  dashboard and the digest render.

Every definition is written out, with its formula, in docs/metrics.md.
"""
