"""Read and validate scenario files; every problem is reported with its path and line.

Times without an offset are local wall times in the call's zone and resolved exactly as call
files are (:func:`shared.calls.fields.resolve_wall_time`): a local time that the zone skips
(the DST gap, e.g. 2019-03-31 02:30 in Brussels) or repeats (2019-10-27 02:30) is refused
with the rule and the line, since it does not name one instant.
"""
from __future__ import annotations

import copy
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from marshmallow import (RAISE, Schema, ValidationError, fields, validate,
                         validates_schema)

from grantflow.scenario.model import Action, EvaluationBehaviour, ProposalSpec, Scenario
from shared.calls.fields import LocalTimeError, WallTime, resolve_wall_time
from shared.calls.loader import DEFAULT_CALL_FILE
from shared.yamlsafe import safe_load

REPOSITORY = Path(__file__).resolve().parents[2]
APPLICANT_ACTIONS = ("submit", "resubmit", "withdraw")


class InvalidScenario(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_instant(text, zone: ZoneInfo) -> datetime:
    """An aware instant; a time without an offset is read in ``zone``. Raises ValueError for
    text that is not ISO 8601 and :class:`LocalTimeError` for a skipped or repeated local
    time."""
    value = text if isinstance(text, datetime) else datetime.fromisoformat(
        str(text).replace("Z", "+00:00"))
    if value.tzinfo is not None:
        return value
    return resolve_wall_time(WallTime(value), zone).astimezone(zone)


def line_numbers(text: str) -> dict[str, int]:
    """The line of each path (``proposals[0].actions[1].at``) in a YAML document."""
    lines: dict[str, int] = {}

    def walk(node: Node, path: str) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, MappingNode):
            for key, value in node.value:
                name = key.value if isinstance(key, ScalarNode) else "?"
                child = f"{path}.{name}" if path else name
                lines.setdefault(child, key.start_mark.line + 1)
                walk(value, child)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, f"{path}[{index}]")

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, "")
    return lines


def _with_line(problem: str, lines: dict[str, int]) -> str:
    """``problem`` (``path: message``) with the line of its path or nearest ancestor."""
    path = problem.split(": ", 1)[0]
    while path and path not in lines:
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return f"{problem} (line {lines[path]})" if path in lines and path else problem


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ActionSchema(_Strict):
    at = fields.Raw(required=True)
    do = fields.String(required=True, validate=validate.OneOf(APPLICANT_ACTIONS))
    change = fields.Dict(load_default=dict)
    reason = fields.String(load_default="")


def _expert_or_any(value: str) -> None:
    """An expert's email, or ``any``: the first assigned evaluator (by email)."""
    if value != "any" and "@" not in value:
        raise ValidationError("must be an expert's email or 'any'")


def _score_sets(value) -> None:
    sets = value if isinstance(value, list) else [value]
    if not sets or not all(isinstance(item, dict) and all(
            isinstance(score, (int, float)) for score in item.values()) for item in sets):
        raise ValidationError("must map criterion ids to points, or be a list of such maps")


class EvaluationSchema(_Strict):
    quality = fields.Float(load_default=75.0, validate=validate.Range(0, 100))
    spread = fields.Float(load_default=3.0, validate=validate.Range(0, 100))
    # one set of scores for every evaluator, or a list: the n-th report gets the n-th set
    scores = fields.Raw(load_default=dict, validate=_score_sets)
    conflicts = fields.List(fields.String(validate=_expert_or_any), load_default=list)
    declines = fields.List(fields.String(validate=_expert_or_any), load_default=list)


class ProposalSchema(_Strict):
    ref = fields.String(required=True)
    topic = fields.String(required=True)
    acronym = fields.String(required=True)
    title = fields.String(required=True)
    abstract = fields.String(required=True)
    integration_areas = fields.List(fields.String(), load_default=list)
    duration_months = fields.Integer(required=True)
    total_eligible_costs = fields.Decimal(required=True, as_string=True)
    requested_grant = fields.Decimal(required=True, as_string=True)
    # participants are the submission API's business: it validates them (field by field)
    # when the runner creates the draft; here they only need to be there
    coordinator = fields.Dict(required=True)
    co_applicants = fields.List(fields.Dict(), load_default=list)
    parts = fields.List(fields.String(), load_default=lambda: ["part_a", "part_b", "budget"])
    actions = fields.List(fields.Nested(ActionSchema), required=True)
    evaluation = fields.Nested(EvaluationSchema, load_default=dict)
    grant = fields.String(load_default="sign", validate=validate.OneOf(["sign", "decline", "ignore"]))


class ScenarioSchema(_Strict):
    name = fields.String(required=True)
    description = fields.String(load_default="")
    call = fields.Dict(load_default=dict)
    experts = fields.List(fields.Dict(), required=True)
    proposals = fields.List(fields.Nested(ProposalSchema), required=True,
                            validate=validate.Length(min=1))
    evaluation = fields.Dict(load_default=dict)
    grants = fields.Dict(load_default=dict)
    expect = fields.Dict(load_default=dict)

    @validates_schema
    def _unique_refs(self, data, **_):
        # counted once, not with list.count per ref: that was quadratic, minutes of a
        # 100,000-proposal scenario's load before anything ran
        counts = Counter(p["ref"] for p in data.get("proposals", []))
        duplicates = sorted(ref for ref, n in counts.items() if n > 1)
        if duplicates:
            raise ValidationError(f"duplicate proposal refs: {', '.join(duplicates)}", "proposals")
        unknown = [key for key in data.get("expect", {}) if key != "notifications"
                   and key not in counts]
        if unknown:
            raise ValidationError(f"expectations for unknown proposals: {', '.join(unknown)}",
                                  "expect")


def deep_merge(base, override):
    """Merge ``override`` into ``base``; a list of dicts with ``id`` (or ``name``) is merged
    item by item, addressed by that key."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base.get(key), value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(override, dict):
        merged = [copy.deepcopy(item) for item in base]
        for key, value in override.items():
            for index, item in enumerate(merged):
                if isinstance(item, dict) and key in (item.get("id"), item.get("name")):
                    merged[index] = deep_merge(item, value)
                    break
            else:
                raise InvalidScenario([f"call.overrides: no list item with id {key!r}"])
        return merged
    return override


def _flatten(messages, path="") -> list[str]:
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            step = f"[{key}]" if isinstance(key, int) else (f".{key}" if path else str(key))
            out += _flatten(value, path + step)
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{path}: {m}" for m in messages]
    return [f"{path}: {messages}"]


def call_text(call: dict) -> str:
    path = Path(call.get("file") or DEFAULT_CALL_FILE)
    if not path.is_absolute():
        path = REPOSITORY / path
    document = safe_load(path.read_text())
    if call.get("overrides"):
        document = deep_merge(document, call["overrides"])
    return yaml.safe_dump(document, sort_keys=False)


def load_scenario_text(text: str) -> Scenario:
    try:
        raw = safe_load(text)  # bounded: no exponential alias expansion
    except yaml.YAMLError as exc:
        raise InvalidScenario([f"not valid YAML: {exc}"]) from None
    if not isinstance(raw, dict):
        raise InvalidScenario(["a scenario is a YAML mapping"])
    return load_scenario_document(raw, text)


def load_scenario_document(raw: dict, text: str | None = None) -> Scenario:
    """A scenario from its document as data (what a file's YAML loads to): the synthetic
    demo builds one directly, a YAML round trip of 10,000 proposals costs minutes.
    ``text``: the YAML it was read from, so that each problem names its line."""
    # ``x-...`` keys hold YAML anchors shared by the proposals (as in Compose files)
    raw = {key: value for key, value in raw.items() if not str(key).startswith("x-")}
    try:
        data = ScenarioSchema().load(raw)
    except ValidationError as exc:
        lines = line_numbers(text) if text is not None else {}
        raise InvalidScenario([_with_line(p, lines) for p in _flatten(exc.messages)]) from None
    calltext = call_text(data["call"])
    zone = ZoneInfo(yaml.safe_load(calltext).get("timezone", "Europe/Brussels"))
    proposals = []
    problems = []
    for index, p in enumerate(data["proposals"]):
        actions = []
        for a_index, action in enumerate(p["actions"]):
            where = f"proposals[{index}].actions[{a_index}].at"
            try:
                at = parse_instant(action["at"], zone)
            except LocalTimeError as exc:
                problems.append(f"{where}: {exc}")
                continue
            except ValueError:
                problems.append(f"{where}: not an instant: {action['at']!r}")
                continue
            actions.append(Action(at, action["do"], action["change"], action["reason"]))
        content = {key: p[key] for key in ("acronym", "title", "abstract", "integration_areas",
                                           "duration_months", "coordinator", "co_applicants")}
        content.update(topic_id=p["topic"], total_eligible_costs=str(p["total_eligible_costs"]),
                       requested_grant=str(p["requested_grant"]))
        evaluation = p["evaluation"]
        proposals.append(ProposalSpec(
            ref=p["ref"], topic=p["topic"], content=content, parts=tuple(p["parts"]),
            actions=tuple(sorted(actions, key=lambda a: a.at)),
            evaluation=EvaluationBehaviour(
                quality=evaluation.get("quality", 75.0), spread=evaluation.get("spread", 3.0),
                scores=tuple(scores if isinstance(scores := evaluation.get("scores", {}), list)
                             else [scores] if scores else []),
                conflicts=tuple(evaluation.get("conflicts", ())),
                declines=tuple(evaluation.get("declines", ()))),
            grant=p["grant"]))
    if problems:
        lines = line_numbers(text) if text is not None else {}
        raise InvalidScenario([_with_line(p, lines) for p in problems])
    return Scenario(
        name=data["name"], description=data["description"], call_yaml=calltext,
        experts=tuple(data["experts"]), proposals=tuple(proposals),
        report_after_days=int(data["evaluation"].get("report_after_days", 10)),
        spread_resolution=data["evaluation"].get("spread_resolution", "note"),
        act_after_days=int(data["grants"].get("act_after_days", 14)),
        authority=data["grants"].get("authority", "sign"), expect=data["expect"])


def load_scenario_file(path: str | Path) -> Scenario:
    return load_scenario_text(Path(path).read_text())
