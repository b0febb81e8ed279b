"""Surveys in the conversation (CSAT, NPS, CES): when to ask, how to read answers, where they are kept."""
