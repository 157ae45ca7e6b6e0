"""What a caller may set for a solve (the service's ``ASSIGNMENT_SOLVER`` settings)."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class SolverOptions:
    """``candidates``: arcs per proposal in the first sparse graph (raised to 2k at
    least); ``max_rounds``: column-generation rounds before settling for a gap;
    ``time_limit``: seconds after which no new round starts (None: no limit);
    ``threads``: affinity blocks computed at once."""

    # 48 rather than 32: fewer rounds and far fewer proposals to price again; the
    # benchmark's 50,000-proposal call took 54.7 s against 63.3 s, 10,124 the same
    candidates: int = 48
    max_rounds: int = 10
    time_limit: float | None = None
    threads: int = min(2, os.cpu_count() or 1)
