"""The pool of independent experts: who they are, how they are imported and edited.

An import (CSV text or a JSON list of objects) is parsed row by row; every problem is
reported as ``row N, field F: rule`` so operations can fix the file in one pass. Rows are
numbered as a spreadsheet shows them: in CSV the header is row 1 and the first expert is
row 2; in JSON the first object is row 1.

Identity is the email address (compared case-insensitively): two rows with one address are
the same person, so the second is an error, and an import row whose address is already in
the roster updates that expert instead of adding one. Pure domain code: no I/O.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Iterable, Mapping

from shared.identifiers import organisation_id_problem

LIST_SEPARATOR = ";"  # inside a CSV cell; commas already separate the cells

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TWO_LETTERS = re.compile(r"^[A-Za-z]{2}$")
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


@dataclass(frozen=True)
class Expert:
    """An expert of the pool. ``email`` is lower-case, ``country`` an upper-case ISO
    3166-1 alpha-2 code, ``languages`` lower-case ISO 639-1 codes. An inactive expert keeps
    the reports already written but gets no new assignment."""

    id: str
    name: str
    email: str
    country: str
    organisation_id: str
    expertise_areas: tuple[str, ...]
    max_load: int
    keywords: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    active: bool = True


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Expert))
# organisation_id is required: a blank one would silently switch off the conflict check.
# expertise_areas too: without one the assignment has nothing to match on.
REQUIRED: frozenset[str] = frozenset(
    {"id", "name", "email", "country", "organisation_id", "expertise_areas", "max_load"})


@dataclass(frozen=True)
class ExpertIssue:
    """One problem in an import or an edit; ``row`` is None for an edit or a file-level
    problem, ``field`` is None for a row-level one."""

    row: int | None
    field: str | None
    rule: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.rule}" if where else self.rule


class ExpertValidationError(ValueError):
    """Raised by :func:`edit_expert`; ``issues`` lists every problem found."""

    def __init__(self, issues: Iterable[ExpertIssue]):
        self.issues = tuple(issues)
        super().__init__("; ".join(str(i) for i in self.issues))


@dataclass(frozen=True)
class ImportedRow:
    """A valid row: the expert it describes and the fields the row actually gave (an
    absent ``active`` must not reactivate an expert on re-import)."""

    row: int
    expert: Expert
    given: frozenset[str]


@dataclass(frozen=True)
class ImportResult:
    """Valid rows and every issue. Rows with an issue are not in ``rows``; the service
    should apply an import only when ``ok`` (all or nothing is easier to reason about)."""

    rows: tuple[ImportedRow, ...]
    issues: tuple[ExpertIssue, ...]

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def experts(self) -> tuple[Expert, ...]:
        return tuple(r.expert for r in self.rows)


# ------------------------------------------------------------------ field rules
class _Invalid(Exception):
    """A field value broke a rule; the message is the rule, worded for the operator."""


#: every free-text field of an expert is bounded (a name, an id, a keyword...)
MAX_TEXT, MAX_ITEMS, MAX_ITEM, MAX_LOAD = 300, 100, 200, 1000


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("must be text")
    if not value.strip():
        raise _Invalid("must not be empty")
    if len(value) > MAX_TEXT:
        raise _Invalid(f"must be at most {MAX_TEXT} characters")
    return value.strip()


def _organisation_id(value: Any) -> str:
    text = _text(value)
    problem = organisation_id_problem(text)
    if problem:
        raise _Invalid(problem)
    return text


def _email(value: Any) -> str:
    text = _text(value).lower()
    if not _EMAIL.match(text):
        raise _Invalid("must be an email address like name@example.org")
    return text


def _country(value: Any) -> str:
    text = _text(value)
    if not _TWO_LETTERS.match(text):
        raise _Invalid("must be a two-letter country code (ISO 3166-1 alpha-2)")
    return text.upper()


def _items(value: Any) -> tuple[str, ...]:
    """A list in JSON, or text separated by ``;`` (both forms accepted from either source)."""
    if isinstance(value, str):
        raw = value.split(LIST_SEPARATOR)
    elif isinstance(value, (list, tuple)):
        if not all(isinstance(v, str) for v in value):
            raise _Invalid("must be a list of text items")
        raw = list(value)
    else:
        raise _Invalid(f"must be a list or text separated by '{LIST_SEPARATOR}'")
    if len(raw) > MAX_ITEMS or any(len(item) > MAX_ITEM for item in raw):
        raise _Invalid(f"must be at most {MAX_ITEMS} items of at most {MAX_ITEM} characters")
    seen: dict[str, None] = {}
    for item in raw:
        if item.strip():
            seen.setdefault(item.strip(), None)
    return tuple(seen)


def _areas(value: Any) -> tuple[str, ...]:
    items = _items(value)
    if not items:
        raise _Invalid("must list at least one area")
    return items


def _languages(value: Any) -> tuple[str, ...]:
    items = _items(value)
    bad = [i for i in items if not _TWO_LETTERS.match(i)]
    if bad:
        raise _Invalid(f"must be two-letter language codes (ISO 639-1), not {', '.join(bad)}")
    return tuple(dict.fromkeys(i.lower() for i in items))


def _max_load(value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid("must be an integer >= 1")
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        value = int(value)
    if not isinstance(value, int) or value < 1:
        raise _Invalid("must be an integer >= 1")
    if value > MAX_LOAD:
        raise _Invalid(f"must be at most {MAX_LOAD}")
    return value


def _active(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _Invalid("must be true or false (yes/no, 1/0 are accepted)")


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "id": _text, "name": _text, "email": _email, "country": _country,
    "organisation_id": _organisation_id, "expertise_areas": _areas, "keywords": _items,
    "max_load": _max_load, "languages": _languages, "active": _active,
}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _parse_row(row: int, record: Mapping[str, Any]) -> tuple[ImportedRow | None, list[ExpertIssue]]:
    issues = [ExpertIssue(row, str(k), "is not a known field") for k in record if k not in _PARSERS]
    values: dict[str, Any] = {}
    for name, parse in _PARSERS.items():
        raw = record.get(name)
        if _blank(raw):
            if name in REQUIRED:
                issues.append(ExpertIssue(row, name, "is required"))
            continue
        try:
            values[name] = parse(raw)
        except _Invalid as exc:
            issues.append(ExpertIssue(row, name, str(exc)))
    if issues:
        return None, issues
    return ImportedRow(row, Expert(**values), frozenset(values)), []


def _dedupe(rows: list[ImportedRow]) -> tuple[list[ImportedRow], list[ExpertIssue]]:
    """The first row of an email (or id) wins; later ones are errors naming that row."""
    by_email: dict[str, int] = {}
    by_id: dict[str, int] = {}
    kept, issues = [], []
    for r in rows:
        if r.expert.email in by_email:
            issues.append(ExpertIssue(r.row, "email",
                                      f"{r.expert.email} duplicates row {by_email[r.expert.email]}"))
        elif r.expert.id in by_id:
            issues.append(ExpertIssue(r.row, "id", f"{r.expert.id} duplicates row {by_id[r.expert.id]}"))
        else:
            by_email[r.expert.email] = by_id[r.expert.id] = r.row
            kept.append(r)
    return kept, issues


def parse_records(records: Any, *, first_row: int = 1) -> ImportResult:
    """Validate a list of dicts (decoded JSON); the first dict is row ``first_row``."""
    if not isinstance(records, list):
        return ImportResult((), (ExpertIssue(None, None, "must be a list of experts"),))
    return _parse(enumerate(records, start=first_row))


def _parse(numbered: Iterable[tuple[int, Any]]) -> ImportResult:
    rows: list[ImportedRow] = []
    issues: list[ExpertIssue] = []
    for number, record in numbered:
        if isinstance(record, ExpertIssue):  # a row the reader already rejected
            issues.append(record)
            continue
        if not isinstance(record, Mapping):
            issues.append(ExpertIssue(number, None, "must be an object with the expert's fields"))
            continue
        parsed, row_issues = _parse_row(number, record)
        issues.extend(row_issues)
        if parsed is not None:
            rows.append(parsed)
    kept, dup_issues = _dedupe(rows)
    return ImportResult(tuple(kept), tuple(sorted(issues + dup_issues, key=_issue_order)))


def _issue_order(issue: ExpertIssue) -> tuple:
    return (issue.row or 0, FIELDS.index(issue.field) if issue.field in FIELDS else len(FIELDS))


def parse_json(text: str) -> ImportResult:
    """Parse a JSON import: a list of objects with the fields of :class:`Expert`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return ImportResult((), (ExpertIssue(None, None, f"is not valid JSON: {exc}"),))
    return parse_records(data, first_row=1)


def parse_csv(text: str) -> ImportResult:
    """Parse a CSV import with a header row naming the fields; lists use ``;`` in a cell.

    Blank lines are skipped but still counted, so row numbers match a spreadsheet. A
    missing required column is one issue on row 1 rather than one per expert.
    """
    try:
        lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))  # Excel writes a BOM
    except csv.Error as exc:
        return ImportResult((), (ExpertIssue(None, None, f"is not valid CSV: {exc}"),))
    header = [h.strip() for h in lines[0]] if lines else []
    if not any(header):
        return ImportResult((), (ExpertIssue(None, None, "is empty: a header row is required"),))
    unknown = [ExpertIssue(1, name or "(blank)", "is not a known field")
               for name in header if name not in _PARSERS]
    missing = [ExpertIssue(1, name, "column is missing") for name in FIELDS
               if name in REQUIRED and name not in header]
    if unknown or missing:
        return ImportResult((), tuple(unknown + missing))
    numbered: list[tuple[int, Any]] = []
    for number, cells in enumerate(lines[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            numbered.append((number, ExpertIssue(number, None, "has more cells than the header")))
        else:  # fewer cells: the absent fields are blank, and reported if required
            numbered.append((number, dict(zip(header, cells))))
    return _parse(numbered)


# ------------------------------------------------------------------ roster changes
@dataclass(frozen=True)
class RosterChange:
    """What applying an import to the roster does: experts to insert, to update (with the
    fields that change), and the rows that conflict with the roster."""

    added: tuple[Expert, ...]
    updated: tuple[tuple[Expert, tuple[str, ...]], ...]
    unchanged: tuple[Expert, ...]
    issues: tuple[ExpertIssue, ...]


def changed_fields(before: Expert, after: Expert) -> tuple[str, ...]:
    """Names of the fields that differ, in declaration order."""
    return tuple(n for n in FIELDS if getattr(before, n) != getattr(after, n))


def merge_import(roster: Iterable[Expert], imported: ImportResult) -> RosterChange:
    """Plan an import against the current roster (dedupe by email).

    A row whose email is known updates that expert (the id must match: an id is never
    re-pointed); ``active`` changes only when the row gives it. An unknown email with an
    id already in use is an error.
    """
    by_email = {e.email: e for e in roster}
    by_id = {e.id: e for e in by_email.values()}
    added, updated, unchanged, issues = [], [], [], []
    for r in imported.rows:
        known = by_email.get(r.expert.email)
        if known is None:
            if r.expert.id in by_id:
                issues.append(ExpertIssue(r.row, "id", f"{r.expert.id} already belongs to "
                                                       f"{by_id[r.expert.id].email}"))
            else:
                added.append(r.expert)
            continue
        if known.id != r.expert.id:
            issues.append(ExpertIssue(r.row, "id", f"{r.expert.email} belongs to expert "
                                                   f"{known.id}, not {r.expert.id}"))
            continue
        new = replace(known, **{n: getattr(r.expert, n) for n in r.given if n != "id"})
        diff = changed_fields(known, new)
        if diff:
            updated.append((new, diff))
        else:
            unchanged.append(known)
    return RosterChange(tuple(added), tuple(updated), tuple(unchanged), tuple(issues))


def edit_expert(expert: Expert, changes: Mapping[str, Any],
                roster: Iterable[Expert] = ()) -> tuple[Expert, tuple[str, ...]]:
    """Apply an operator's edit and return the new expert and the fields that changed.

    Values are validated with the import's rules. ``id`` never changes; ``active`` changes
    only through :func:`deactivate`/:func:`reactivate` so the service cannot miss the
    releases that deactivation implies. A changed ``organisation_id`` or ``country`` may
    create conflicts: the service re-checks the expert's assignments when they change.
    """
    issues: list[ExpertIssue] = []
    values: dict[str, Any] = {}
    for name, raw in changes.items():
        if name == "id":
            issues.append(ExpertIssue(None, name, "cannot be changed"))
        elif name == "active":
            issues.append(ExpertIssue(None, name, "use deactivate or reactivate"))
        elif name not in _PARSERS:
            issues.append(ExpertIssue(None, str(name), "is not a known field"))
        elif _blank(raw) and name in REQUIRED:
            issues.append(ExpertIssue(None, name, "is required"))
        elif _blank(raw):
            values[name] = ()  # optional lists are the only optional editable fields
        else:
            try:
                values[name] = _PARSERS[name](raw)
            except _Invalid as exc:
                issues.append(ExpertIssue(None, name, str(exc)))
    email = values.get("email")
    clash = next((e for e in roster if email and e.email == email and e.id != expert.id), None)
    if clash is not None:
        issues.append(ExpertIssue(None, "email", f"is already used by expert {clash.id}"))
    if issues:
        raise ExpertValidationError(issues)
    new = replace(expert, **values)
    return new, changed_fields(expert, new)


def deactivate(expert: Expert) -> Expert:
    """The expert leaves the pool: no new assignment. Idempotent (a redelivered command
    is a no-op). The service releases the expert's assignments whose report is not final
    (``evaluator_released``, reason ``deactivated``); final reports stay valid."""
    return expert if not expert.active else replace(expert, active=False)


def reactivate(expert: Expert) -> Expert:
    """The expert is available for new assignments again. Idempotent."""
    return expert if expert.active else replace(expert, active=True)


def assignable(expert: Expert) -> bool:
    """Whether the expert may receive a new assignment (load and conflicts aside)."""
    return expert.active
