"""The notifications service's own Prometheus series (module level: defined once per
process, architecture rule 7)."""
from prometheus_client import Counter

DELIVERIES = Counter(
    "grantflow_notification_deliveries_total",
    "Delivery outcomes by template: sent, failed (final), deferred (to be retried)",
    ["service", "template", "outcome"])

# the name the operations runbook and the alert rule use (issue 9): no grantflow_ prefix
POSSIBLE_DUPLICATES = Counter(
    "notifications_possible_duplicates",
    "Attempts that followed an interrupted attempt (the process died, or the connection "
    "broke during the text), so the recipient may get the message twice",
    ["service", "template"])


def count(template: str, outcome: str) -> None:
    DELIVERIES.labels("notifications", template, outcome).inc()


def count_possible_duplicate(template: str) -> None:
    POSSIBLE_DUPLICATES.labels("notifications", template).inc()
