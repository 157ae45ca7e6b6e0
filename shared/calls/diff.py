"""Human-readable differences between two versions of a call (announced to applicants
in ``call_published.changes`` when a call is amended)."""
from __future__ import annotations

from dataclasses import fields as dataclass_fields
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from shared.calls import rules
from shared.calls.model import Call, Stage


def diff_calls(old: Call, new: Call) -> list[str]:
    """What changed from ``old`` to ``new``, one sentence per change, in document order
    (empty when nothing but the version number changed). Times are shown in each call's
    own zone, amounts with thousands separators."""
    changes: list[str] = []
    for name in ("id", "title", "timezone", "currency", "budget"):
        _scalar(changes, name, getattr(old, name), getattr(new, name))
    _keyed(changes, "integration area", {a.id: a for a in old.integration_areas},
           {a.id: a for a in new.integration_areas}, _area_changes)
    _keyed(changes, "topic", {t.id: t for t in old.topics}, {t.id: t for t in new.topics},
           _topic_changes)
    _timetable(changes, old, new)
    _scalar(changes, "admissibility.required_parts", list(old.required_parts),
            list(new.required_parts))
    _eligibility(changes, old, new)
    _evaluation(changes, old, new)
    for field in dataclass_fields(old.grants):
        _scalar(changes, f"grant_rules.{field.name}", getattr(old.grants, field.name),
                getattr(new.grants, field.name))
    return changes


def _scalar(changes: list[str], name: str, before: Any, after: Any, old_zone: str = "UTC",
            new_zone: str = "UTC") -> None:
    if before != after:
        changes.append(f"{name} {show(before, old_zone)} -> {show(after, new_zone)}")


def show(value: Any, zone: str = "UTC") -> str:
    """A value as people read it: 6,000,000; 2019-01-31 17:00 (Europe/Brussels)."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "none"}[value]
    if isinstance(value, (Decimal, int)):
        return f"{value:,}"
    if isinstance(value, datetime):
        local = value.astimezone(ZoneInfo(zone))
        pattern = "%Y-%m-%d %H:%M:%S" if local.second or local.microsecond else "%Y-%m-%d %H:%M"
        return f"{local.strftime(pattern)} ({zone})"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v, zone) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v, zone)}" for k, v in value.items()) + "}"
    return str(value)


def _keyed(changes: list[str], what: str, before: dict, after: dict, compare) -> None:
    for key in before:
        if key not in after:
            changes.append(f"{what} {key} removed")
    for key, item in after.items():
        if key not in before:
            changes.append(f"{what} {key} added")
        else:
            compare(changes, key, before[key], item)


def _area_changes(changes: list[str], key: str, old, new) -> None:
    _scalar(changes, f"integration area {key} label", old.label, new.label)


def _topic_changes(changes: list[str], key: str, old, new) -> None:
    _scalar(changes, f"topic {key} title", old.title, new.title)
    _scalar(changes, f"topic {key} budget", old.budget, new.budget)
    _scalar(changes, f"topic {key} integration_areas", list(old.integration_areas),
            list(new.integration_areas))


def _timetable(changes: list[str], old: Call, new: Call) -> None:
    before = {s.name: s for s in old.timetable}
    after = {s.name: s for s in new.timetable}
    for name, stage in before.items():
        if name not in after:
            changes.append(f"timetable.{name} removed")
    for name, stage in after.items():
        if name not in before:
            changes.append(f"timetable.{name} added: {_when(stage, new.timezone)}")
            continue
        was = before[name]
        if was.label != stage.label:
            changes.append(f"timetable.{name} label {was.label!r} -> {stage.label!r}")
        if (was.ends_at is None) != (stage.ends_at is None):
            changes.append(f"timetable.{name} changed from {_when(was, old.timezone)} to "
                           f"{_when(stage, new.timezone)}")
            continue
        parts = [("", was.starts_at, stage.starts_at)] if stage.ends_at is None else \
            [(" start", was.starts_at, stage.starts_at), (" end", was.ends_at, stage.ends_at)]
        for part, then, now in parts:
            if then != now:
                changes.append(f"timetable.{name}{part} moved from {show(then, old.timezone)} "
                               f"to {show(now, new.timezone)}")


def _when(stage: Stage, zone: str) -> str:
    if stage.ends_at is None:
        return f"at {show(stage.starts_at, zone)}"
    return f"from {show(stage.starts_at, zone)} to {show(stage.ends_at, zone)}"


def _eligibility(changes: list[str], old: Call, new: Call) -> None:
    def key(rule):
        return rule.id + (f" (topics {', '.join(rule.topics)})" if rule.topics else "")

    def compare(changes, name, was, rule):
        prefix = f"eligibility.{name}"
        _scalar(changes, f"{prefix} severity", was.severity, rule.severity)
        _scalar(changes, f"{prefix} description", was.description, rule.description)
        # compare the JSON-safe forms: the same thing the wire carries
        then = rules.dump_params(was.id, was.params)
        now = rules.dump_params(rule.id, rule.params)
        for param in dict.fromkeys([*then, *now]):
            if isinstance(then.get(param), list) and isinstance(now.get(param), list):
                _list_param(changes, f"{prefix} {param}", then[param], now[param])
            else:
                _scalar(changes, f"{prefix} {param}", _typed(then.get(param)),
                        _typed(now.get(param)))

    _keyed(changes, "eligibility rule", {key(r): r for r in old.eligibility},
           {key(r): r for r in new.eligibility}, compare)


def _list_param(changes: list[str], name: str, before: list, after: list) -> None:
    """Long lists (participating countries) read better as what was added or removed."""
    added = [item for item in after if item not in before]
    removed = [item for item in before if item not in after]
    if added or removed:
        said = [f"added {show(added)}"] * bool(added) + [f"removed {show(removed)}"] * bool(removed)
        changes.append(f"{name}: {'; '.join(said)}")
    elif before != after:
        changes.append(f"{name} reordered")


def _typed(value: Any) -> Any:
    """Decimal text back to Decimal so amounts show with separators."""
    if isinstance(value, str):
        try:
            return Decimal(value) if value.replace(".", "", 1).isdigit() else value
        except ArithmeticError:
            return value
    return value


def _evaluation(changes: list[str], old: Call, new: Call) -> None:
    before, after = old.evaluation, new.evaluation
    for field in dataclass_fields(before):
        if field.name != "criteria":
            _scalar(changes, f"evaluation.{field.name}", _listed(getattr(before, field.name)),
                    _listed(getattr(after, field.name)))

    def compare(changes, key, was, criterion):
        for name in ("title", "max_points", "threshold"):
            _scalar(changes, f"criterion {key} {name}", getattr(was, name),
                    getattr(criterion, name))

    _keyed(changes, "criterion", {c.id: c for c in before.criteria},
           {c.id: c for c in after.criteria}, compare)


def _listed(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
