"""Time and memory of a solve: laps per phase (wall and CPU seconds), the peak resident
memory, the free pages handed back to the system, and arrays set aside on disk while
they are not read."""
from __future__ import annotations

import ctypes
import functools
import logging
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import numpy as np

log = logging.getLogger(__name__)


class Clock:
    """Laps for the result's ``stats``: wall seconds per phase (summed), and the
    process's CPU seconds per phase (``cpu_<phase>_s``), which other load on the
    machine does not inflate."""

    def __init__(self, progress: Callable[[str], None] | None = None):
        self._start = self._last = time.perf_counter()
        self._cpu_start = self._cpu_last = time.process_time()
        self._laps: dict[str, float] = {}
        self._progress = progress

    def lap(self, name: str, detail: str = ""):
        now, cpu = time.perf_counter(), time.process_time()
        self._laps[f"{name}_s"] = self._laps.get(f"{name}_s", 0.0) + now - self._last
        self._laps[f"cpu_{name}_s"] = self._laps.get(f"cpu_{name}_s", 0.0) + cpu - self._cpu_last
        if self._progress:
            self._progress(f"{name} {now - self._last:.2f} s (cpu {cpu - self._cpu_last:.2f} s)"
                           + (f": {detail}" if detail else ""))
        self._last, self._cpu_last = now, cpu

    def note(self, **values):
        self._laps.update(values)

    def total(self) -> float:
        return time.perf_counter() - self._start

    def stats(self) -> dict:
        return {**self._laps, "total_s": self.total(),
                "cpu_total_s": time.process_time() - self._cpu_start,
                "peak_rss_mb": peak_rss_mb()}


def return_freed_memory() -> None:
    """Hand the pages the allocator holds free back to the system (glibc's
    ``malloc_trim``). Blocks freed among blocks still in use stay resident otherwise:
    the abstracts a solve drops once its text model is built would still count in the
    child's peak (at 100,000 x 30,000 it was 26 MB lower with this). Elsewhere than
    glibc, nothing is done."""
    try:
        _libc().malloc_trim(0)
    except (OSError, AttributeError):
        pass


@contextmanager
def set_aside(*fields: tuple[object, str]) -> Iterator[None]:
    """Write the arrays ``getattr(holder, name)`` of ``fields`` to an unnamed temporary
    file and drop them (the attribute reads None) for the ``with`` block; they are read
    back when it ends, however it ends. Where the file cannot be written they stay.

    For what the solver keeps but OR-Tools does not read while it solves (the stored
    pairs, the blocked pairs): its network and work arrays (about 0.1 kB an arc) come on
    top of everything else resident, and the solver child's peak is there. The file is
    in the system's temporary directory (``TMPDIR``; in the Kubernetes manifests an
    ``emptyDir`` on the node's disk): its pages are cache the kernel may drop, not memory
    the child holds."""
    spill = _written([getattr(holder, name) for holder, name in fields])
    if isinstance(spill, OSError):
        # a full or unwritable temporary directory costs memory, not the solve
        log.warning("solver arrays kept in memory, not set aside on disk: %s", spill)
        yield
        return
    with spill:
        for holder, name in fields:
            setattr(holder, name, None)
        try:
            yield
        finally:
            spill.seek(0)
            for holder, name in fields:
                setattr(holder, name, np.load(spill, allow_pickle=False))


def _written(arrays: list[np.ndarray]):
    """An unnamed temporary file holding ``arrays`` one after the other (``np.save``),
    or the error that stopped writing it."""
    try:
        spill = tempfile.TemporaryFile(prefix="grantflow-solver-")
    except OSError as error:
        return error
    try:
        for array in arrays:
            np.save(spill, array, allow_pickle=False)
        spill.flush()
    except OSError as error:
        with suppress(OSError):  # closing flushes what is buffered, and fails again
            spill.close()
        return error
    return spill


@functools.cache
def _libc():
    return ctypes.CDLL("libc.so.6")


def peak_rss_mb() -> float:
    """This process's peak resident memory, MB. On Linux the high-water mark of its own
    address space (``VmHWM``): getrusage's ``ru_maxrss`` also counts the parent's size
    at the moment it started the process (subprocess starts children with vfork), so a
    solver child under a 1 GB parent read at least 1 GB whatever it used itself."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
