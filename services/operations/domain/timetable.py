"""The call's timetable as operations shows it: every milestone, which ones were reached,
and the current stage.

The current stage is the ``timetable_stage_reached`` with the latest instant ``at`` (not
the last one received: two may arrive out of order). The timetable itself comes from the
call's ``call_published`` (latest version); either may be known before the other.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.calls.model import Call, milestones


@dataclass(frozen=True)
class Reached:
    """One ``timetable_stage_reached``: the stage (milestone key), its label and instant."""

    stage: str
    label: str
    at: datetime


def current(reached: list[Reached], call: Call | None = None) -> Reached | None:
    """The stage reached at the latest instant. Two milestones can share an instant (the
    information to applicants and the start of grant preparation): the later one in the
    call's timetable is current; without the call, the greater key, for a stable answer."""
    order = {m.key: i for i, m in enumerate(milestones(call))} if call is not None else {}
    return max(reached, key=lambda r: (r.at, order.get(r.stage, -1), r.stage), default=None)


def timetable(call: Call | None, reached: list[Reached]) -> list[dict]:
    """Milestones in time order with ``reached`` and ``current`` flags; without the call
    only the stages reached so far are known."""
    now = current(reached, call)
    keys = {r.stage for r in reached}
    if call is None:
        return [{"key": r.stage, "label": r.label, "stage": r.stage, "at": r.at,
                 "local": None, "reached": True, "current": r == now}
                for r in sorted(reached, key=lambda r: (r.at, r.stage))]
    points = milestones(call)
    current_key = _current_key(points, now)
    return [{"key": m.key, "label": m.label, "stage": m.stage, "at": m.at,
             "local": call.local(m.at).isoformat(),
             "reached": m.key in keys or (now is not None and m.at <= now.at),
             "current": m.key == current_key}
            for m in points]


def _current_key(points, now: Reached | None) -> str | None:
    if now is None:
        return None
    for m in points:  # the event names the milestone (or its stage)
        if now.stage in (m.key, m.stage) and m.at == now.at:
            return m.key
    for m in points:
        if now.stage == m.key:
            return m.key
    passed = [m for m in points if m.at <= now.at]
    return passed[-1].key if passed else None


def signature_ended(call: Call | None, reached: list[Reached]) -> bool:
    """True once the signature period's end was reached."""
    if any(r.stage in ("signature_end", "signature_ended") for r in reached):
        return True
    now = current(reached, call)
    if call is None or now is None:
        return False
    try:
        end = call.stage("signature").ends_at
    except KeyError:
        return False
    return end is not None and now.at >= end
