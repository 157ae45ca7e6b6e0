"""When a batching handler's batch goes: a wait that grows with the flow.

A batch goes when it is full, or at the earlier of two moments: ``wait_ms`` after its
first event (the ceiling: no event waits longer than that for its batch to fill), and
``idle_ms`` after its latest one (the flow has paused: nothing is gained by waiting on).
Under a steady flow (a call's deadline, its letters) events keep coming faster than the
idle gap and a batch fills for up to the whole wait, so a handler makes few, full
transactions, which is what its cost follows (DEVELOPERS.md); after a burst, as when a
replayed timetable settles after each instant, the last batch goes one idle gap after the
last event instead of a whole wait after its first.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BatchWindow:
    wait_ms: int
    idle_ms: int

    def __post_init__(self):
        if self.wait_ms < 0 or self.idle_ms < 0:
            raise ValueError(f"batch wait and idle gap must be >= 0 ms, not "
                             f"{self.wait_ms} and {self.idle_ms}")

    @classmethod
    def of(cls, wait_ms: int, idle_ms: int | None) -> "BatchWindow":
        """``idle_ms`` None: no idle gap, the batch goes ``wait_ms`` after its first event."""
        return cls(wait_ms, wait_ms if idle_ms is None else min(idle_ms, wait_ms))

    def due(self, first_at: float, latest_at: float) -> float:
        """The moment (same clock as the arrivals, in seconds) the batch goes if it does
        not fill first."""
        return min(first_at + self.wait_ms / 1000, latest_at + self.idle_ms / 1000)
