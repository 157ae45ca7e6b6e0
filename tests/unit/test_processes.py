"""Stopping several service processes (grantflow down, the test stacks' teardown)."""
from __future__ import annotations

import re
import subprocess
import sys
import time

from grantflow.processes import ServiceProcess, stop_all

# a process that ignores SIGTERM, as a nameko service stuck reconnecting to a broker did
_DEAF = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
         "print(1, flush=True); time.sleep(60)")


def _deaf_process(tmp_path, name: str) -> ServiceProcess:
    proc = ServiceProcess(name, {}, tmp_path)
    proc.process = subprocess.Popen([sys.executable, "-c", _DEAF], stdout=subprocess.PIPE)
    proc.process.stdout.readline()  # its handler is in place
    return proc


def test_processes_that_ignore_sigterm_share_one_deadline_then_are_killed(tmp_path, capsys):
    processes = [_deaf_process(tmp_path, f"deaf{i}") for i in range(3)]
    started = time.monotonic()
    stop_all(processes, timeout=3.0)
    elapsed = time.monotonic() - started

    assert not any(proc.is_alive() for proc in processes)
    assert all(proc.process.returncode == -9 for proc in processes)  # killed, not stopped
    # one deadline for all: about 3 s, where a full timeout each took 9 s or more
    assert 3.0 <= elapsed < 6.0, elapsed
    # each says how long it had since SIGTERM, the last ones too (not "within 0s")
    said = capsys.readouterr().err.splitlines()
    assert len(said) == 3 and all(
        re.fullmatch(rf"deaf{i} did not stop within [345]s of SIGTERM: killed", line)
        for i, line in enumerate(said)), said
