"""The notifications service's own Prometheus series (module level: defined once per
process, architecture rule 7)."""
from prometheus_client import Counter

DELIVERIES = Counter(
    "grantflow_notification_deliveries_total",
    "Delivery outcomes by template: sent, failed (final), deferred (to be retried)",
    ["service", "template", "outcome"])


def count(template: str, outcome: str) -> None:
    DELIVERIES.labels("notifications", template, outcome).inc()
