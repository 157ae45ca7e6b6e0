"""What /proc says of a process, for the benchmarks' CPU figures (a figure a loaded
machine disturbs less than wall time)."""
from __future__ import annotations

import os
import threading
from pathlib import Path


def cpu_seconds(pid: int, reaped: bool = False) -> float:
    """CPU seconds (user and system) a process has used so far; with ``reaped``, also what
    its exited children used (a postmaster reaps the backends of closed connections).
    Raises OSError when there is no such process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int | None) -> float | None:
    """Resident memory of a process and its children, MB (a service and its solver child,
    as a container's memory limit counts them); None for no process."""
    if pid is None:
        return None
    total = 0
    for each in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def _children(pid: int) -> list[int]:
    """The children of every thread of ``pid`` (Linux lists a child under the thread that
    started it, not only under the process's first one)."""
    children = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []
    for task in tasks:
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


class PeakTogether:
    """The highest resident memory of a process and its children together
    (:func:`rss_mb`), sampled every ``interval`` seconds while the ``with`` block runs:
    what a container's memory limit counts of a service and its solver child, whose
    own peaks need not come at the same moment."""

    def __init__(self, pid: int, interval: float = 0.2):
        self.pid, self.interval = pid, interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "PeakTogether":
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        self.peak_mb = max(self.peak_mb, rss_mb(self.pid) or 0.0)
