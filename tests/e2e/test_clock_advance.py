"""``grantflow clock advance`` moves every service together through the timetable, firing
each stage on the way in order, never skipping one."""
import os
import subprocess
import sys

import pytest

from shared.config import SERVICES
from tests.support.submission_data import call_yaml

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

FIRST_STAGES = ["publication", "submission_deadline", "evaluation_start"]


def grantflow(stack, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRANTFLOW_AMQP_URI": stack.vhost.amqp_uri,
           "GRANTFLOW_VAR": str(stack.tmp_path), "GRANTFLOW_CLOCK": "simulated",
           "GRANTFLOW_RETRY_DELAYS_MS": ",".join(map(str, stack.RETRY_DELAYS_MS)),
           **{f"GRANTFLOW_{name.upper()}_URL": stack.url(name) for name in SERVICES}}
    return subprocess.run([sys.executable, "-m", "grantflow.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def stages_reached(stack) -> list[str]:
    overview = stack.api("operations").get("/calls/AMIF-2018-AG-INTE/overview").json()
    return [m["key"] for m in overview["timetable"] if m["reached"]]


def test_advance_to_a_stage_fires_every_earlier_stage_in_order(stack):
    assert stack.clock_path == stack.tmp_path / "clock.json"  # where the CLI looks
    stack.start(*SERVICES)
    assert grantflow(stack, "clock", "set", "--to", "2018-07-01T00:00:00+02:00").returncode == 0
    loaded = stack.api("submission").post("/calls", data=call_yaml().encode())
    assert loaded.status_code == 201, loaded.text

    jumped = grantflow(stack, "clock", "advance", "--to-stage", "evaluation")
    assert jumped.returncode == 0, jumped.stderr
    lines = jumped.stdout.splitlines()
    printed = [stage for line in lines for stage in FIRST_STAGES if f" {stage} " in f" {line} "]
    assert printed == FIRST_STAGES  # each stage once, in timetable order
    assert lines[-1].startswith("2019-01-31T23:00:00")  # evaluation starts 1 Feb 00:00 Brussels
    assert stages_reached(stack) == FIRST_STAGES

    again = grantflow(stack, "clock", "advance", "--by", "1d")
    assert again.returncode == 0, again.stderr
    assert stages_reached(stack) == FIRST_STAGES  # nothing fires twice

    backwards = grantflow(stack, "clock", "advance", "--to", "2019-01-01T00:00:00+01:00")
    assert backwards.returncode == 2 and "never goes backwards" in backwards.stderr
