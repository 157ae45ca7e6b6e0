"""Prometheus metrics, defined once per process (architecture rule 7).

Every series carries a ``service`` label so several containers in one test process, or one
dashboard over all services, keep them apart. Services add their own domain metrics in
their adapters the same way: module level, once.
"""
from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

EVENTS_PUBLISHED = Counter(
    "grantflow_events_published_total", "Events published to the broker by the outbox relay",
    ["service", "event_type"])
EVENTS_CONSUMED = Counter(
    "grantflow_events_consumed_total",
    "Events handled by a consumer, by outcome (processed, duplicate, retried, dead_lettered)",
    ["service", "event_type", "outcome"])
HANDLER_LATENCY = Histogram(
    "grantflow_handler_latency_seconds", "Time spent in event handlers",
    ["service", "event_type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
OUTBOX_BACKLOG = Gauge(
    "grantflow_outbox_backlog", "Outbox rows committed but not yet confirmed by the broker",
    ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "grantflow_outbox_oldest_age_seconds", "Age of the oldest unsent outbox row", ["service"])
DEAD_LETTERED = Counter(
    "grantflow_dead_lettered_total", "Messages moved to the dead-letter queue",
    ["service", "event_type"])
HTTP_REQUESTS = Counter(
    "grantflow_http_requests_total", "HTTP API requests by route and status",
    ["service", "route", "status"])
HTTP_LATENCY = Histogram(
    "grantflow_http_latency_seconds", "HTTP API latency", ["service", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))


def exposition() -> tuple[str, str]:
    """Body and content type for a ``/metrics`` endpoint (nameko needs a str body)."""
    return generate_latest().decode("utf-8"), CONTENT_TYPE_LATEST
