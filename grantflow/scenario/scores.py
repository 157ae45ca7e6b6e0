"""Which scores an evaluator gives: deterministic per seed, whatever the thread order, the
solver's choice of experts, or an interrupted and resumed replay.

The n-th report on a proposal always gets the scores drawn for (seed, proposal ref, n), so
a proposal's reports are the same multiset of scores in every run. Slots are handed out as
reports are written, from any thread; a resumed replay first marks the slots whose scores it
finds in reports the services already hold, and hands out only the others.
"""
from __future__ import annotations

import random
import threading
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

from grantflow.scenario.model import EvaluationBehaviour

#: how many slots a resumed replay tries when matching reports it finds (more than any
#: proposal has evaluators)
MAX_SLOTS = 64


class Scores:
    def __init__(self, criteria, seed: int):
        self.criteria = list(criteria)  # the call's evaluation criteria (id, max_points)
        self.seed = seed
        self._used: dict[str, set[int]] = defaultdict(set)
        self._lock = threading.Lock()

    def draw(self, ref: str | None, behaviour: EvaluationBehaviour | None,
             nth: int) -> dict:
        """criterion -> points (halves) of the ``nth`` report on the proposal ``ref``."""
        rng = random.Random(f"{self.seed}:{ref}:{nth}")
        quality = behaviour.quality if behaviour else 75.0
        spread = behaviour.spread if behaviour else 3.0
        explicit = behaviour.scores[nth % len(behaviour.scores)] \
            if behaviour and behaviour.scores else {}
        scores = {}
        for criterion in self.criteria:
            maximum = float(criterion.max_points)
            if criterion.id in explicit:
                value = float(explicit[criterion.id])
            else:
                value = maximum * quality / 100 + rng.uniform(-spread, spread) * maximum / 100
            value = min(maximum, max(0.0, value))
            scores[criterion] = Decimal(str(value * 2)).quantize(Decimal("1"),
                                                                  rounding=ROUND_HALF_UP) / 2
        return scores

    def take(self, proposal_id: str) -> int:
        """The next free slot of the proposal (thread-safe)."""
        with self._lock:
            used = self._used[proposal_id]
            nth = next(n for n in range(len(used) + 1) if n not in used)
            used.add(nth)
            return nth

    def found(self, proposal_id: str, ref: str | None, behaviour: EvaluationBehaviour | None,
              reports: Iterable[dict]) -> None:
        """Mark the slots of reports already written (``{criterion id: score}`` each)."""
        for report in reports:
            wanted = {key: Decimal(str(value)) for key, value in report.items()}
            with self._lock:
                used = self._used[proposal_id]
                for nth in range(MAX_SLOTS):
                    if nth in used:
                        continue
                    drawn = {c.id: v for c, v in self.draw(ref, behaviour, nth).items()}
                    if all(drawn.get(key) == value for key, value in wanted.items()):
                        used.add(nth)
                        break
