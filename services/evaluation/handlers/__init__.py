"""Handlers of the evaluation service, one module per concern:

- :mod:`.events`: the submission events evaluation consumes;
- :mod:`.experts`: the expert pool (operations);
- :mod:`.affinities`: affinity scores imported by operations;
- :mod:`.assigning`: assignment runs, repairs, extra evaluators, overrides, the sweeper;
- :mod:`.evaluators`: what evaluators do (assignments, reports, conflicts, declines) and
  conflicts declared by operations;
- :mod:`.progress`: consensus and ranking, settled after every change;
- :mod:`.views`: read side for operations, rankings, summary reports.
"""
from services.evaluation.handlers import (  # noqa: F401
    affinities, assigning, evaluators, events, experts, progress, views)
