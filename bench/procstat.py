"""What /proc says of a process, for the benchmarks' CPU figures (a figure a loaded
machine disturbs less than wall time)."""
from __future__ import annotations

import os
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
