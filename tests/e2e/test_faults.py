"""A replay survives a service killed mid-stage (SIGKILL, restarted 2 s later) and ends
with the clean run's report: the same final state, rank and score for every proposal and
the same mail for every (recipient, template, proposal). The two short experiments of the
fault suite (``make faults`` runs them all, ``bench/faults.py``) that ``make test`` keeps."""
import pytest

from bench.faults import STAGES, Experiment, compare, kill, replay

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

PROPOSALS, EXPERTS, SEED = 12, 8, 2019


@pytest.fixture(scope="module")
def clean():
    return replay(PROPOSALS, EXPERTS, SEED, say=print)


def test_a_service_killed_amid_the_evaluation_round_changes_nothing(clean):
    assert "reports" in STAGES
    faulty = replay(PROPOSALS, EXPERTS, SEED,
                    Experiment("kill:evaluation@reports", "reports", kill("evaluation")),
                    say=print)

    assert faulty.struck  # the kill happened while evaluators were writing reports
    assert len(clean.proposals) >= PROPOSALS - 2 and all(
        final for final, _, _ in clean.proposals.values())
    difference = compare(clean, faulty)
    assert difference["diverged"] == 0, difference
    assert difference["lost_mails"] == 0, difference
    assert difference["duplicate_mails"] == difference["explained_duplicate_mails"], difference


def test_an_interrupted_replay_resumed_ends_as_the_clean_run(clean):
    faulty = replay(PROPOSALS, EXPERTS, SEED, Experiment("interrupt-resume@reports", "reports"),
                    say=print)

    assert faulty.struck  # stopped amid the first evaluation round, then resumed
    difference = compare(clean, faulty)
    assert difference["diverged"] == 0, difference
    assert difference["lost_mails"] == 0 and difference["duplicate_mails"] == 0, difference
