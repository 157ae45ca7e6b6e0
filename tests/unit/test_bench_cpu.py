"""The benchmarks' CPU meter: what each process of a run spent, phase by phase."""
import os
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from bench.procstat import cpu_seconds
from bench.stack import CpuMeter, cpu_seconds_if_running


def burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


class Process:
    def __init__(self, pid):
        self._pid = pid

    def pid(self):
        return self._pid


def test_a_process_cpu_time_is_read_from_proc_and_grows_as_it_works():
    before = cpu_seconds(os.getpid())
    burn(0.3)
    assert cpu_seconds(os.getpid()) - before >= 0.25
    with pytest.raises(OSError):
        cpu_seconds(2 ** 22 + 12345)  # no such process
    # the meter's reading: a process not running has spent nothing
    assert cpu_seconds_if_running(None) == 0.0
    assert cpu_seconds_if_running(2 ** 22 + 12345) == 0.0


def test_what_reaped_children_spent_counts_for_their_parent_only_when_asked():
    before_own, before_all = cpu_seconds(os.getpid()), cpu_seconds(os.getpid(), reaped=True)
    subprocess.run([sys.executable, "-c", "import time\nend = time.process_time() + 0.5\n"
                    "while time.process_time() < end: pass"], check=True)
    assert cpu_seconds(os.getpid()) - before_own < 0.25
    assert cpu_seconds(os.getpid(), reaped=True) - before_all >= 0.45


def test_each_phase_gets_what_was_spent_since_the_previous_one_and_repeats_add_up():
    stack = SimpleNamespace(processes={"submission": Process(os.getpid()),
                                       "grants": Process(None)},
                            smtp=SimpleNamespace(process=None))
    meter = CpuMeter(stack)
    burn(0.3)
    first = meter.phase_ended("drafts")
    assert first == meter.phases["drafts"]
    meter.phase_ended("ranking")
    burn(0.2)
    meter.phase_ended("drafts")
    drafts, ranking = meter.phases["drafts"], meter.phases["ranking"]
    assert drafts["submission"] >= 0.45 and drafts["runner"] >= 0.45  # the same process
    assert ranking["submission"] < 0.1
    assert drafts["grants"] == 0.0 and drafts["smtp_server"] == 0.0  # not running
    assert {"postgresql", "rabbitmq"} <= set(drafts)
    assert meter.totals()["submission"] == round(drafts["submission"] + ranking["submission"], 1)


def test_the_cpu_of_each_stage_sums_its_phases_and_the_milestones_measured_apart():
    from types import SimpleNamespace

    from bench.call_at_scale import STAGE_OF, cpu_per_stage, stages

    per_phase = {"publication": {"evaluation": 1.0},
                 "applicants": {"submission": 80.0, "notifications": 100.0},
                 "submission_deadline": {"submission": 5.0, "notifications": 60.0},
                 "evaluation_start": {"evaluation": 9.0},
                 "deadline_to_assigned": {"evaluation": 0.2},
                 "grants": {"grants": 1.0}, "finish": {"grants": 0.5}}
    staged = cpu_per_stage(per_phase)

    assert staged == {"submission": {"submission": 80.0, "notifications": 100.0,
                                     "evaluation": 0.2},
                      "deadline_to_screened": {"submission": 5.0, "notifications": 60.0},
                      "assignment": {"evaluation": 9.0}, "grants": {"grants": 1.5}}
    # every stage the benchmark times has its CPU figures under the same name
    runner = SimpleNamespace(timings={}, milestones={})
    assert set(STAGE_OF.values()) == set(stages(runner))
