"""A replay survives a service killed mid-stage (SIGKILL, restarted 2 s later) and ends
with the clean run's report: the same final state, rank and score for every proposal and
the same mail for every (recipient, template, proposal). The two short experiments of the
fault suite (``make faults`` runs them all, ``bench/faults.py``) that ``make test`` keeps."""
import fcntl
import pickle
from pathlib import Path

import pytest

from bench.faults import STAGES, Experiment, compare, kill, replay
from grantflow.scenario.loader import load_scenario_file

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

# a small call with few instants keeps the three replays short: three proposals, nine
# reports, two grants signed and one on the reserve list
SCENARIO = load_scenario_file(Path(__file__).resolve().parents[2] / "scenarios"
                              / "happy-path.yaml")
PROPOSALS, EXPERTS, SEED = 0, 0, 2019


def run(experiment=None):
    return replay(PROPOSALS, EXPERTS, SEED, experiment, say=print, scenario=SCENARIO)


@pytest.fixture(scope="module")
def clean(tmp_path_factory, worker_id):
    """The clean replay, once for the whole run: ``make test`` hands the two tests to two
    pytest-xdist workers at once and each replayed it (a minute of a busy machine each).
    The first worker to take the lock replays and leaves its outcome for the other, which
    waits for it; if that replay fails, the waiting worker replays itself."""
    if worker_id == "master":  # not under xdist: the module scope is once already
        return run()
    shared = tmp_path_factory.getbasetemp().parent  # the run's directory, common to workers
    outcome_path = shared / "faults-clean-outcome.pickle"
    with open(shared / "faults-clean-outcome.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if outcome_path.exists():
            return pickle.loads(outcome_path.read_bytes())
        outcome = run()
        outcome_path.write_bytes(pickle.dumps(outcome))
        return outcome


def test_a_service_killed_amid_the_evaluation_round_changes_nothing(clean):
    assert "reports" in STAGES
    faulty = run(Experiment("kill:evaluation@reports", "reports", kill("evaluation")))

    assert faulty.struck  # the kill happened while evaluators were writing reports
    assert len(clean.proposals) == 3 and all(final for final, _, _ in clean.proposals.values())
    difference = compare(clean, faulty)
    assert difference["diverged"] == 0, difference
    assert difference["lost_mails"] == 0, difference
    assert difference["duplicate_mails"] == difference["explained_duplicate_mails"], difference


def test_an_interrupted_replay_resumed_ends_as_the_clean_run(clean):
    faulty = run(Experiment("interrupt-resume@reports", "reports"))

    assert faulty.struck  # stopped amid the first evaluation round, then resumed
    difference = compare(clean, faulty)
    assert difference["diverged"] == 0, difference
    assert difference["lost_mails"] == 0 and difference["duplicate_mails"] == 0, difference
