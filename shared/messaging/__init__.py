"""Messaging plumbing: outbox relay, idempotent consumers, retries and dead letters."""
