"""Scenarios: a whole call replayed through the real services (docs/scenarios.md)."""
