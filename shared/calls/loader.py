"""Reading call files, and the call's wire form (the ``call`` dict of ``call_published``).

YAML is read with a loader that keeps times as text (so the call's own zone decides what
a wall time means, not PyYAML's UTC default), reads ``0.90`` as Decimal('0.90') (never a
binary float), and reports duplicate keys instead of silently keeping the last one.
Documents come from outside (HTTP, files), so they are read within
:data:`shared.yamlsafe.CALL_LIMITS` (size, nodes with aliases expanded, depth), in a real
OS thread when a service parses them (:func:`shared.yamlsafe.off_hub`).
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from shared.calls.model import Call
from shared.calls.schema import (CallSchema, InvalidCall, Problem, build_call,
                                 call_to_document, check_document)
from shared.yamlsafe import CALL_LIMITS, BoundedComposer, YamlLimitExceeded, check_size, off_hub

#: The bundled default call (AMIF-2018-AG-INTE), at the repository's ``calls/``.
DEFAULT_CALL_FILE = Path(__file__).resolve().parents[2] / "calls" / "AMIF-2018-AG-INTE.yaml"


class _CallYamlLoader(BoundedComposer, yaml.SafeLoader):
    """SafeLoader without implicit timestamps, with exact decimals, and with YAML 1.2
    booleans (only true/false), so a country code such as NO (Norway) stays text; within
    the call limits."""

    limits = CALL_LIMITS


_BOOL = "tag:yaml.org,2002:bool"
_CallYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", _BOOL)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_CallYamlLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                      list("tTfF"))


def _construct_decimal(loader: yaml.SafeLoader, node: ScalarNode) -> Any:
    text = loader.construct_scalar(node).replace("_", "").lower()
    special = {".inf": "Infinity", "+.inf": "Infinity", "-.inf": "-Infinity", ".nan": "NaN"}
    try:
        return Decimal(special.get(text, text))
    except InvalidOperation:  # sexagesimal and the like: let the schema refuse the float
        return loader.construct_yaml_float(node)


_CallYamlLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


# ------------------------------------------------------------------------- files
def validate_call_file(path: str | Path) -> list[Problem]:
    """Every problem of the call file at ``path`` (empty list: the file is valid)."""
    return _read(Path(path))[1]


def load_call_file(path: str | Path) -> Call:
    """The call in the file at ``path``; raises :class:`InvalidCall` listing every
    problem when it does not validate."""
    call, problems = _read(Path(path))
    if problems:
        raise InvalidCall(problems, source=str(path))
    return call


def validate_call_text(text: str) -> list[Problem]:
    """Every problem of a call document given as YAML text."""
    return _parse(text)[1]


def load_call_text(text: str, source: str = "call text") -> Call:
    """The call in YAML ``text``; raises :class:`InvalidCall` like :func:`load_call_file`."""
    call, problems = _parse(text)
    if problems:
        raise InvalidCall(problems, source=source)
    return call


def load_default_call() -> Call:
    """The bundled AMIF-2018-AG-INTE call."""
    return load_call_file(DEFAULT_CALL_FILE)


def _read(path: Path) -> tuple[Call | None, list[Problem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, [Problem("", f"cannot read the file: {error}")]
    return _parse(text)


def _parse(text: str) -> tuple[Call | None, list[Problem]]:
    return off_hub(lambda: _parse_here(text))


def _parse_here(text: str) -> tuple[Call | None, list[Problem]]:
    try:
        check_size(text, CALL_LIMITS)
    except YamlLimitExceeded as error:
        return None, [_limit_problem(error)]
    try:  # the reader itself refuses control characters (found by the Schemathesis run)
        loader = _CallYamlLoader(text)
    except yaml.YAMLError as error:
        return None, [Problem("", f"YAML error: {error}")]
    try:
        node = loader.get_single_node()
        raw = loader.construct_document(node) if node is not None else None
    except YamlLimitExceeded as error:
        return None, [_limit_problem(error)]
    except yaml.MarkedYAMLError as error:
        return None, [_syntax_problem(error)]
    except yaml.YAMLError as error:
        return None, [Problem("", f"YAML error: {error}")]
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    problems: list[Problem] = []
    if node is not None:
        _index(node, "", lines, problems)
    doc, found = check_document(raw)
    problems += [_with_line(p, lines) for p in found]
    if problems:
        return None, problems
    return build_call(doc), []


def _limit_problem(error: YamlLimitExceeded) -> Problem:
    line = error.problem_mark.line + 1 if error.problem_mark else None
    return Problem("", f"refused: {error.rule}; a call document may have "
                       f"{CALL_LIMITS.describe()}", line)


def _syntax_problem(error: yaml.MarkedYAMLError) -> Problem:
    mark = error.problem_mark or error.context_mark
    what = " ".join(part for part in (error.context, error.problem) if part)
    line = mark.line + 1 if mark else None
    where = f" at line {line}, column {mark.column + 1}" if mark else ""
    return Problem("", f"YAML syntax error{where}: {what}", line)


def _index(node: Node, path: str, lines: dict[str, int], problems: list[Problem]) -> None:
    """Record the line of each path, and report duplicate mapping keys."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else "?"
            child = f"{path}.{key}" if path else key
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(Problem(child, f"duplicate key {key!r} (first on line "
                                               f"{seen[key]}); only one value may be given",
                                        line))
            seen.setdefault(key, line)
            lines.setdefault(child, line)
            _index(value_node, child, lines, problems)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, f"{path}[{i}]", lines, problems)


def _with_line(problem: Problem, lines: dict[str, int]) -> Problem:
    """The problem with the line of its path, or of its nearest ancestor in the file."""
    path = problem.path
    while path not in lines and path:
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return Problem(problem.path, problem.message, lines.get(path))


# ------------------------------------------------------------------------- wire
def call_to_wire(call: Call) -> dict:
    """The JSON-safe dict of ``call`` (Decimal as text, instants as ISO 8601 UTC) that
    travels in ``call_published``; :func:`call_from_wire` gives back an equal Call."""
    return CallSchema().dump(call_to_document(call))


def call_from_wire(data: dict) -> Call:
    """The :class:`Call` of a wire dict; validated like a file, raising
    :class:`InvalidCall` with every problem."""
    doc, problems = check_document(data)
    if problems:
        raise InvalidCall(problems, source=f"call {data.get('id', '?')} (wire)")
    return build_call(doc)


class ParsedCalls:
    """Call documents parsed once per (call id, version) and process, for the services that
    keep a copy of each call: a stored version never changes, and parsing (validation
    included) costs milliseconds that every event of a big call would pay again.
    ``keep`` records a call a service has just saved, so that a database reset and given
    another document under the same version (tests) is not answered from before."""

    def __init__(self):
        self._parsed: dict[tuple[str, int], Call] = {}

    def get(self, call_id: str, version: int, document: dict) -> Call:
        return self.fetched(call_id, version, lambda: document)

    def fetched(self, call_id: str, version: int, fetch_document) -> Call:
        """Like :meth:`get`, reading the document (``fetch_document()``) only when this
        version is not parsed yet: an evaluator's report reads the call's version, not its
        7 KB document, every time."""
        key = (call_id, version)
        if key not in self._parsed:
            self._parsed[key] = call_from_wire(fetch_document())
        return self._parsed[key]

    def keep(self, call: Call) -> None:
        self._parsed[(call.id, call.version)] = call
