"""The README's "Running it yourself", command by command, through the real services: the
clock is set first, a load that would fire past milestones is refused, the example
proposal is created and submitted with the README's address, each stage says what it did,
the clock does not go back before fired milestones, help reads the loaded call, and a
service that is down is named while the clock stays where it was."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shared.config import SERVICES

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]
CALL = str(ROOT / "calls" / "AMIF-2018-AG-INTE.yaml")
PARTS = [f"--part={name}={ROOT / 'examples' / 'parts' / f'{name}.txt'}"
         for name in ("part_a", "part_b", "budget")]


def grantflow(stack, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRANTFLOW_AMQP_URI": stack.vhost.amqp_uri,
           "GRANTFLOW_VAR": str(stack.tmp_path), "GRANTFLOW_CLOCK": "simulated",
           "GRANTFLOW_RETRY_DELAYS_MS": ",".join(map(str, stack.RETRY_DELAYS_MS)),
           "GRANTFLOW_CLI_WAIT": "1",
           **{f"GRANTFLOW_{name.upper()}_URL": stack.url(name) for name in SERVICES}}
    return subprocess.run([sys.executable, "-m", "grantflow.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_readme_walkthrough_works_as_written(stack):
    stack.start(*SERVICES)
    # the clock stands after the call's first milestones: loading would fire them at once
    ok(grantflow(stack, "clock", "set", "--to", "2019-02-01T00:00:00+01:00"))
    refused = grantflow(stack, "call", "load", CALL)
    assert refused.returncode == 2
    assert "publication" in refused.stderr and "--fire-past" in refused.stderr
    assert stack.api("submission").get("/calls").json() == []  # nothing was loaded

    ok(grantflow(stack, "clock", "set", "--to", "2018-07-25T00:00:00+02:00"))
    shown = ok(grantflow(stack, "clock", "show")).splitlines()
    assert shown == ["2018-07-24T22:00:00+00:00",
                     "  simulated clock, standing still; as the running services read it"]
    ok(grantflow(stack, "call", "load", CALL))
    ok(grantflow(stack, "clock", "advance", "--to-stage", "publication"))
    created = ok(grantflow(stack, "proposal", "create", "examples/proposal.json",
                           "--as", "you@example.org", *PARTS))
    proposal_id = re.match(r"(P-\w+) WELCOME-NET \(draft\)", created).group(1)
    assert "receipt: proposal" in ok(grantflow(stack, "proposal", "submit", proposal_id,
                                               "--as", "you@example.org"))

    advanced = ok(grantflow(stack, "clock", "advance", "--to-stage", "evaluation")).splitlines()
    (deadline,) = [line for line in advanced if " submission_deadline " in line]
    assert "screened 1" in deadline  # what the stage did, from the services
    assert advanced[-1].startswith("2019-01-31T23:00:00")

    back = grantflow(stack, "clock", "set", "--to", "2018-12-01T00:00:00+01:00")
    assert back.returncode == 2 and "submission_deadline" in back.stderr \
        and "--force" in back.stderr

    helped = ok(grantflow(stack, "reports", "submit", "--help"))
    assert "Criteria of call AMIF-2018-AG-INTE (loaded):" in helped

    stack.processes["grants"].stop()
    down = grantflow(stack, "clock", "advance", "--by", "1d")
    assert down.returncode == 3
    assert "the grants service is not reachable" in down.stderr
    assert "the clock was not moved (it stands at 2019-01-31T23:00:00+00:00)" in down.stderr
    assert stack.clock.now().isoformat() == "2019-01-31T23:00:00+00:00"
