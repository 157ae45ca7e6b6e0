"""The clock is a dependency (architecture rule 8).

``WallClock`` reads the real time. ``SimulatedClock`` keeps its state in a small JSON file
that every service process of a deployment shares, so operations can set or advance one
time for all of them and replay a whole call timetable in minutes. The file holds an
anchor instant and a rate: ``now = anchor + (wall_now - set_at) * rate``; rate 0 (the
default) means time stands still until someone advances it, which makes replays
deterministic.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from nameko.extensions import DependencyProvider

UTC = timezone.utc


class Clock:
    def now(self) -> datetime:  # pragma: no cover - interface
        raise NotImplementedError


class WallClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class ClockState:
    anchor: datetime
    set_at: datetime
    rate: float = 0.0

    def now(self, wall_now: datetime) -> datetime:
        if not self.rate:
            return self.anchor
        return self.anchor + (wall_now - self.set_at) * self.rate

    def to_json(self) -> str:
        return json.dumps({"anchor": self.anchor.isoformat(), "set_at": self.set_at.isoformat(),
                           "rate": self.rate})

    @classmethod
    def from_json(cls, text: str) -> "ClockState":
        data = json.loads(text)
        return cls(anchor=_aware(data["anchor"]), set_at=_aware(data["set_at"]),
                   rate=float(data.get("rate", 0)))


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"clock instant {text!r} has no time zone")
    return value


class SimulatedClock(Clock):
    """A clock whose state lives in ``path``; every reader of the same file agrees."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._cache: tuple[tuple[int, int, int], ClockState] | None = None

    def state(self) -> ClockState:
        """The state in the file, read again only when the file changed. A change is
        known by the file's inode as well as its modification time: every ``set`` writes
        a new file, and two sets a fraction of a millisecond apart get the same
        modification time here (ext4: 2,000 quick sets had 1,000 distinct times), which
        left a reader on the first one."""
        try:
            found = self.path.stat()
        except FileNotFoundError:
            raise ClockNotSet(f"simulated clock file {self.path} does not exist: "
                              "set it with `grantflow clock set --to INSTANT`") from None
        stamp = (found.st_ino, found.st_mtime_ns, found.st_size)
        if self._cache is None or self._cache[0] != stamp:
            self._cache = (stamp, ClockState.from_json(self.path.read_text()))
        return self._cache[1]

    def now(self) -> datetime:
        return self.state().now(datetime.now(UTC))

    def set(self, instant: datetime, rate: float = 0.0) -> ClockState:
        if instant.tzinfo is None:
            raise ValueError("the clock can only be set to a timezone-aware instant")
        state = ClockState(anchor=instant.astimezone(UTC), set_at=datetime.now(UTC), rate=rate)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # write-then-rename so a reader never sees half a file
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".clock-")
        with os.fdopen(fd, "w") as handle:
            handle.write(state.to_json())
        # readable by every service process, whichever user moved the clock (compose)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.path)
        self._cache = None
        return state

    def advance(self, delta: timedelta) -> ClockState:
        if delta < timedelta(0):
            raise ValueError("the simulated clock never goes backwards; use set to restart")
        state = self.state()
        return self.set(self.now() + delta, state.rate)


class ClockNotSet(RuntimeError):
    pass


def ensure_simulated_clock(setting: str, now: datetime | None = None,
                           rate: float = 0.0) -> Path | None:
    """With a simulated clock (``file:PATH``), create its file at ``now`` (the wall time)
    unless someone has set it already, so every service answers /health from its first
    start. Returns the file's path, or None with the wall clock."""
    if not setting.startswith("file:"):
        return None
    clock = SimulatedClock(setting[len("file:"):])
    if not clock.path.exists():
        clock.set(now or datetime.now(UTC), rate=rate)
    return clock.path


def clock_from_setting(setting: str | None) -> Clock:
    """``wall`` (default) or ``file:/path/to/clock.json`` for the shared simulated clock."""
    if not setting or setting == "wall":
        return WallClock()
    if setting.startswith("file:"):
        return SimulatedClock(setting[len("file:"):])
    raise ValueError(f"CLOCK must be 'wall' or 'file:PATH', not {setting!r}")


class ClockProvider(DependencyProvider):
    """Gives each worker the service's clock (config key ``CLOCK``)."""

    def setup(self):
        self.clock = clock_from_setting(self.container.config.get("CLOCK"))

    def get_dependency(self, worker_ctx):
        return self.clock
