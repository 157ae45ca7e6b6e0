"""The grant rounds of a replay act at the same instants whether the replay ran through or
was interrupted amid a round and resumed: a reserve proposal promoted by a decline of round
one signs in round two either way (the fault suite's interrupt-resume@grants lost two daily
digests when the resumed run signed it at once)."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from grantflow.scenario.client import Answer
from grantflow.scenario.synthetic import synthetic_scenario
from shared.calls.loader import load_call_text
from tests.support.bare_runner import Clock, bare_runner

SCENARIO = synthetic_scenario(30, 10, 2019)


class GrantsService:
    """Two files of one topic: the main-list one is declined, which promotes the reserve
    proposal, invited at that instant."""

    def __init__(self, clock, invited_at):
        self.clock = clock
        self.files = {"G-1": self.file("G-1", "P-1", invited_at)}
        self.acted: list[tuple[str, object]] = []  # (path, simulated instant)

    def file(self, grant_id, proposal_id, invited_at):
        return {"grant_id": grant_id, "proposal_id": proposal_id, "state": "invited",
                "invited_at": invited_at.isoformat(), "coordinator_email": "c@example.org",
                "preparation_deadline": (invited_at + timedelta(days=60)).isoformat()}

    def must(self, service, method, path, **kwargs):
        assert (service, method, path) == ("grants", "GET", "/grants")
        return {"grants": [dict(f) for f in self.files.values()]}

    def call(self, service, method, path, **kwargs):
        grant_id, step = path.split("/")[2:]
        self.acted.append((path, self.clock.now()))
        self.files[grant_id]["state"] = {"confirm": "data_confirmed",
                                         "sign": "coordinator_signed",
                                         "authority-sign": "signed",
                                         "decline": "declined"}[step]
        if step == "decline":
            self.files["G-2"] = self.file("G-2", "P-2", self.clock.now())
        return Answer(200, {})


def runner(clock, service, resume):
    declined = replace(SCENARIO.proposals[0], ref="main", grant="decline")
    reserve = replace(SCENARIO.proposals[1], ref="reserve", grant="sign")
    return bare_runner(replace(SCENARIO, authority="sign", act_after_days=14), clock, service,
                       resume=resume, specs={"main": declined, "reserve": reserve},
                       refs={"P-1": "main", "P-2": "reserve"})


def test_a_promoted_reserve_signs_a_round_after_the_decline_whether_or_not_the_run_was_resumed():
    information = load_call_text(SCENARIO.call_yaml).stage("information_to_applicants").starts_at
    round_one, round_two = information + timedelta(days=14), information + timedelta(days=28)

    clock = Clock(information)
    through = GrantsService(clock, information)
    runner(clock, through, resume=False).grants()

    clock = Clock(round_one)  # interrupted amid round one, after the decline
    resumed = GrantsService(clock, information)
    resumed.call("grants", "POST", "/grants/G-1/decline")
    runner(clock, resumed, resume=True).grants()

    signed_through = [at for path, at in through.acted if path.startswith("/grants/G-2/")]
    signed_resumed = [at for path, at in resumed.acted if path.startswith("/grants/G-2/")]
    assert [path for path, _ in through.acted] == ["/grants/G-1/decline", "/grants/G-2/confirm",
                                                   "/grants/G-2/sign",
                                                   "/grants/G-2/authority-sign"]
    assert signed_through == [round_two] * 3
    assert signed_resumed == signed_through
