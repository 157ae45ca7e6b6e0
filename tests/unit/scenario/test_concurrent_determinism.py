"""The concurrent runner's outcome does not depend on thread order or interruptions: the
scores each proposal gets are one multiset per seed, however many threads write the reports
in whatever order, and a resumed run that finds some reports written hands out the rest."""
from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from grantflow.scenario.scores import Scores
from grantflow.scenario.synthetic import synthetic_scenario
from shared.calls.loader import load_call_text

SCENARIO = synthetic_scenario(40, 20, 2019)
CRITERIA = load_call_text(SCENARIO.call_yaml).evaluation.criteria


def reports(workers: int, order_seed: int, scores: Scores | None = None,
            slots: int = 3) -> dict[str, Counter]:
    """Every proposal's report totals when ``workers`` threads write them in a shuffled
    order (what the runner's pool does with one evaluation round)."""
    scores = scores or Scores(CRITERIA, seed=7)
    work = [(spec, n) for spec in SCENARIO.proposals for n in range(slots)]
    random.Random(order_seed).shuffle(work)

    def write(item):
        spec, _ = item
        nth = scores.take(spec.ref)
        return spec.ref, sum(scores.draw(spec.ref, spec.evaluation, nth).values())
    found: dict[str, Counter] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for ref, total in pool.map(write, work):
            found.setdefault(ref, Counter())[total] += 1
    return found


def test_thread_order_and_pool_size_do_not_change_any_proposals_scores():
    assert reports(1, 0) == reports(32, 1) == reports(8, 2)


def test_another_seed_gives_other_scores():
    assert reports(8, 0) != reports(8, 0, Scores(CRITERIA, seed=8))


def test_a_resumed_round_hands_out_only_the_slots_not_found_written():
    clean = reports(8, 0)
    resumed = Scores(CRITERIA, seed=7)
    written: dict[str, Counter] = {}
    for index, spec in enumerate(SCENARIO.proposals):  # some reports made before the stop
        for nth in range(index % 3):
            drawn = resumed.draw(spec.ref, spec.evaluation, 2 - nth)  # any slots, any order
            resumed.found(spec.ref, spec.ref, spec.evaluation,
                          [{c.id: str(v) for c, v in drawn.items()}])
            written.setdefault(spec.ref, Counter())[sum(drawn.values())] += 1
    rest = {spec.ref: 3 - index % 3 for index, spec in enumerate(SCENARIO.proposals)}
    for spec in SCENARIO.proposals:
        for _ in range(rest[spec.ref]):
            nth = resumed.take(spec.ref)
            written.setdefault(spec.ref, Counter())[
                sum(resumed.draw(spec.ref, spec.evaluation, nth).values())] += 1
    assert written == clean
