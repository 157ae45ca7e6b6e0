"""The benchmarks' memory sampler: each service's peak resident memory, over the run and
per phase, so a peak can be traced to the stage that reached it."""
import os
from types import SimpleNamespace

from bench.stack import Sampler, rss_mb


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
