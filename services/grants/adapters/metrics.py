"""The grants service's Prometheus series, defined once per process (architecture rule 7)
and served by ``/metrics`` with the shared ones.

Histograms and the breach counter are observed by the replica that handled the fact, after
its transaction committed (sum them across replicas); the state gauge is recomputed from
the database on each clock tick by every replica (take ``max`` across replicas).
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

#: the ``service`` label every Grantflow series carries (shared/metrics.py)
SERVICE = "grants"

# days: one month is about 30; the buckets straddle the usual 5- and 8-month targets
_DAY_BUCKETS = (30, 60, 90, 120, 150, 165, 180, 210, 240, 270, 300, 330, 365, 450, 540)

TIME_TO_INFORM = Histogram(
    "grantflow_time_to_inform_days",
    "Whole days from the submission deadline to a proposal's first result letter",
    ["service", "call_id"], buckets=_DAY_BUCKETS)
TIME_TO_GRANT = Histogram(
    "grantflow_time_to_grant_days",
    "Whole days from the submission deadline to the signature of a proposal's grant",
    ["service", "call_id"], buckets=_DAY_BUCKETS)
TIME_TARGET_BREACHES = Counter(
    "grantflow_time_target_breaches_total",
    "Proposals found past the call's time-to-inform (tti) or time-to-grant (ttg) target",
    ["service", "call_id", "measure"])
GRANTS_BY_STATE = Gauge(
    "grantflow_grants", "Grant preparation files by state", ["service", "call_id", "state"])
