"""The deadline rush benchmark at a tiny size, with two replicas of the submission service
on one database and broker: every applicant's connection goes to one of them in turn, both
accept submissions, and the manifest published at the deadline lists every last receipt
(the bench checks its own result: ``lost`` and ``late_accepted`` must be 0)."""
import json

import pytest

from bench import submission_rush

pytestmark = [pytest.mark.integration]


def test_two_replicas_share_the_rush_and_the_manifest_has_every_receipt(capsys):
    assert submission_rush.main(["--clients", "4", "--proposals-per-client", "2",
                                 "--rush-seconds", "3", "--processes", "2", "--workers", "8",
                                 "--part-kb", "1", "--setup-threads", "2",
                                 "--replicas", "2"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    assert figures["replicas"] == 2 and figures["proposals"] == 8
    assert (figures["lost"], figures["late_accepted"], figures["errors"]) == (0, 0, 0)
    assert figures["proposals_with_receipts"] == figures["manifest_entries"] == 8
    per_replica = figures["accepted_per_replica"]
    assert len(per_replica) == 2 and min(per_replica) > 0
    assert sum(per_replica) == figures["accepted"]
    # the machine's speed beside the figures, before and after the stack
    for when in ("before", "after"):
        reference = figures["reference"][when]
        assert reference["python"]["cpu_ms"] > 0
        assert reference["postgresql"]["txn_wall_us"] > 0
