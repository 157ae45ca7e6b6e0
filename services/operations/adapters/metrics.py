"""The operations service's own metrics, defined once per process (architecture rule 7)."""
from prometheus_client import Gauge

PROPOSALS_BY_STATE = Gauge(
    "grantflow_operations_proposals", "Proposals per call and state, as operations derives them",
    ["call_id", "state"])
