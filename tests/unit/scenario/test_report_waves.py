"""The replay hands the evaluators' reports to the service in waves: every proposal's first
report, then every second one, as evaluators working through their own lists would. Handed
over proposal by proposal, the three reports of one proposal ran at the same moment and
queued on its row (at 10,000 proposals, 78 of 113 active evaluation statements sampled
were waiting for a proposal's row lock)."""
from __future__ import annotations

from grantflow.scenario.synthetic import synthetic_scenario
from shared.calls.loader import load_call_text
from tests.support.bare_runner import Clock, bare_runner

SCENARIO = synthetic_scenario(30, 10, 2019)
PROPOSALS = ("P-A", "P-B", "P-C")
EXPERTS = ("E-1", "E-2", "E-3", "E-4")


class EvaluationService:
    """Three evaluators on each of three proposals; the topic has nothing incomplete."""

    def __init__(self):
        chosen = {"P-A": ("E-3", "E-1", "E-2"), "P-B": ("E-2", "E-4", "E-1"),
                  "P-C": ("E-4", "E-3", "E-2")}
        self.assignments = [{"proposal_id": p, "expert_id": e}
                            for p in reversed(PROPOSALS) for e in chosen[p]]

    def must(self, service, method, path, **kwargs):
        if path == "/experts":
            return [{"id": e, "email": f"{e.lower()}@example.org"} for e in EXPERTS]
        if path == "/assignments":
            return self.assignments
        assert path.endswith("/topics"), path
        return [{"incomplete": []}]


def test_every_proposals_first_report_is_handed_over_before_any_second_one():
    call = load_call_text(SCENARIO.call_yaml)
    clock = Clock(call.stage("evaluation").starts_at)
    replay = bare_runner(SCENARIO, clock, EvaluationService(), workers=1)  # in hand-over order
    handed: list[tuple[str, str, bool]] = []

    def evaluate(assignment, expert, first):
        handed.append((assignment["proposal_id"], expert["id"], first))
        return assignment["proposal_id"], "report"
    replay._evaluate = evaluate
    replay.evaluation()

    # within a proposal by the evaluator's e-mail, as before; across proposals in waves
    assert handed == [("P-A", "E-1", True), ("P-B", "E-1", True), ("P-C", "E-2", True),
                      ("P-A", "E-2", False), ("P-B", "E-2", False), ("P-C", "E-3", False),
                      ("P-A", "E-3", False), ("P-B", "E-4", False), ("P-C", "E-4", False)]
    assert "reports" in replay.timings and "ranking" in replay.timings
