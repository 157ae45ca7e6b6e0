"""The benchmarks' memory sampler: each service's peak resident memory, over the run and
per phase, so a peak can be traced to the stage that reached it."""
import os
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

from bench.procstat import PeakTogether, rss_mb
from bench.stack import Sampler


def process(pid):
    return SimpleNamespace(pid=lambda: pid)


def test_each_phase_keeps_its_own_peak_and_the_run_keeps_the_highest():
    stack = SimpleNamespace(processes={"submission": process(os.getpid()),
                                       "grants": process(None)},
                            databases=SimpleNamespace(prefix="gft_no_such_prefix_"))
    sampler = Sampler(stack)
    try:
        before = sampler.phase_ended("drafts")["submission"]
        grown = bytearray(200 * 1024 * 1024)  # touched: resident
        for offset in range(0, len(grown), 4096):
            grown[offset] = 1
        during = sampler.phase_ended("applicants")["submission"]
        del grown
        after = sampler.phase_ended("letters")["submission"]
    finally:
        sampler._engine.dispose()

    assert during - before >= 150
    assert after < during - 150  # a phase's peak is its own, not the run's so far
    assert sampler.peak_rss_mb["submission"] >= during
    assert set(sampler.peak_rss_mb_per_phase) == {"drafts", "applicants", "letters"}
    assert "grants" not in sampler.peak_rss_mb_per_phase["letters"]  # not running
    assert rss_mb(None) is None


GROW_THEN_WAIT = ("import sys, time\n"
                  "grown = bytearray(200 * 1024 * 1024)\n"
                  "for offset in range(0, len(grown), 4096): grown[offset] = 1\n"
                  "print('grown', flush=True)\n"
                  "sys.stdin.read()\n")


def test_a_process_and_the_child_a_thread_started_are_counted_together():
    # a container counts the evaluation service and its solver child together; Linux
    # lists a child under the thread that started it while that thread lives
    started, sampled = [], threading.Event()

    def start_then_wait():
        started.append(subprocess.Popen([sys.executable, "-c", GROW_THEN_WAIT],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True))
        sampled.wait(30)

    thread = threading.Thread(target=start_then_wait)
    own = rss_mb(os.getpid())
    with PeakTogether(os.getpid(), interval=0.05) as together:
        thread.start()
        try:
            while not started:
                time.sleep(0.01)
            assert started[0].stdout.readline() == "grown\n"
            time.sleep(0.2)
        finally:
            sampled.set()
            thread.join()
            started[0].communicate("")
    assert together.peak_mb >= own + 150, (own, together.peak_mb)
    assert rss_mb(os.getpid()) < own + 50  # the child has ended: only this process
