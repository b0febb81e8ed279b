"""Human handoff: Slack agent desk, relay, outbox."""
