"""Expert pool: import from CSV and JSON, dedupe by email, edit and deactivate."""
import ast
import csv
import io
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from services.evaluation.domain.experts import (
    Expert, ExpertValidationError, assignable, deactivate, edit_expert, merge_import,
    parse_csv, parse_json, parse_records, reactivate)

HEADER = "id,name,email,country,organisation_id,expertise_areas,keywords,max_load,languages,active"


def csv_text(*rows: str) -> str:
    return "\n".join((HEADER, *rows)) + "\n"


def ann(**changes) -> Expert:
    fields = dict(id="E-1", name="Ann Example", email="ann@example.org", country="DE",
                  organisation_id="ORG-1", expertise_areas=("housing",), max_load=3)
    return Expert(**{**fields, **changes})


def messages(result) -> list[str]:
    return [str(i) for i in result.issues]


# ------------------------------------------------------------------ CSV
def test_csv_row_is_parsed_and_normalised():
    result = parse_csv(csv_text(
        "E-1, Ann Example ,Ann@Example.ORG,de,ORG-1,housing; education ;housing,"
        "one-stop shop;labour,3,EN;fr,no"))
    assert result.ok, messages(result)
    assert result.experts == (Expert(
        id="E-1", name="Ann Example", email="ann@example.org", country="DE",
        organisation_id="ORG-1", expertise_areas=("housing", "education"),
        keywords=("one-stop shop", "labour"), max_load=3, languages=("en", "fr"),
        active=False),)


def test_csv_optional_columns_may_be_absent_and_default():
    text = "id,name,email,country,organisation_id,expertise_areas,max_load\n" \
           "E-1,Ann,ann@example.org,DE,ORG-1,housing,2\n"
    (row,) = parse_csv(text).rows
    assert row.expert.active is True and row.expert.keywords == () and row.expert.languages == ()
    assert "active" not in row.given


@pytest.mark.parametrize("value", ["0", "-1", "abc", "2.5", "1e3"])
def test_csv_invalid_max_load_names_row_field_and_rule(value):
    result = parse_csv(csv_text(
        "E-1,Ann,ann@example.org,DE,ORG-1,housing,,2,,",
        f"E-2,Bob,bob@example.org,FR,ORG-2,health,,{value},,"))
    assert messages(result) == ["row 3, field max_load: must be an integer >= 1"]
    assert [e.id for e in result.experts] == ["E-1"]  # the valid row is still reported


def test_csv_row_numbers_follow_the_spreadsheet_including_blank_lines():
    result = parse_csv(csv_text("E-1,Ann,ann@example.org,DE,ORG-1,housing,,2,,", "",
                                "E-2,Bob,not-an-email,FR,ORG-2,health,,2,,"))
    assert messages(result) == [
        "row 4, field email: must be an email address like name@example.org"]


def test_csv_reports_every_problem_of_a_row():
    result = parse_csv(csv_text(",Ann,ann@example.org,Germany,,housing,,x,english,maybe"))
    assert messages(result) == [
        "row 2, field id: is required",
        "row 2, field country: must be a two-letter country code (ISO 3166-1 alpha-2)",
        "row 2, field organisation_id: is required",
        "row 2, field max_load: must be an integer >= 1",
        "row 2, field languages: must be two-letter language codes (ISO 639-1), not english",
        "row 2, field active: must be true or false (yes/no, 1/0 are accepted)",
    ]
    assert result.experts == ()


def test_csv_missing_required_column_is_reported_once_on_the_header():
    text = "id,name,email,country,expertise_areas,max_load\n" \
           "E-1,Ann,ann@example.org,DE,housing,2\nE-2,Bob,bob@example.org,FR,health,2\n"
    assert messages(parse_csv(text)) == ["row 1, field organisation_id: column is missing"]


def test_csv_unknown_column_is_an_error_not_silently_dropped():
    text = HEADER + ",maxload\nE-1,Ann,ann@example.org,DE,ORG-1,housing,,2,,,5\n"
    assert messages(parse_csv(text)) == ["row 1, field maxload: is not a known field"]


def test_csv_row_with_surplus_cells():
    result = parse_csv(csv_text("E-1,Ann,ann@example.org,DE,ORG-1,housing,,2,,,surplus"))
    assert messages(result) == ["row 2: has more cells than the header"]


def test_csv_empty_and_bom():
    assert messages(parse_csv("")) == ["is empty: a header row is required"]
    assert parse_csv("\ufeff" + csv_text("E-1,Ann,ann@example.org,DE,ORG-1,housing,,2,,")).ok


# ------------------------------------------------------------------ JSON
def test_json_list_of_objects_with_lists():
    text = json.dumps([{"id": "E-1", "name": "Ann", "email": "ann@example.org", "country": "it",
                        "organisation_id": "ORG-1", "expertise_areas": ["housing", "health"],
                        "max_load": 4, "languages": ["IT"], "active": True}])
    result = parse_json(text)
    assert result.ok
    assert result.experts[0].expertise_areas == ("housing", "health")
    assert result.experts[0].country == "IT" and result.experts[0].languages == ("it",)


def test_json_rows_count_from_one():
    good = {"id": "E-1", "name": "Ann", "email": "ann@example.org", "country": "IT",
            "organisation_id": "ORG-1", "expertise_areas": ["housing"], "max_load": 1}
    result = parse_json(json.dumps([good, {**good, "id": "E-2", "email": "b@example.org",
                                           "max_load": True}, "oops"]))
    assert messages(result) == ["row 2, field max_load: must be an integer >= 1",
                                "row 3: must be an object with the expert's fields"]


@pytest.mark.parametrize("text, message", [
    ("{not json", "is not valid JSON"),
    ('{"id": "E-1"}', "must be a list of experts"),
])
def test_json_file_level_errors(text, message):
    (issue,) = parse_json(text).issues
    assert issue.row is None and str(issue).startswith(message)


def test_json_wrong_types():
    result = parse_records([{"id": 7, "name": "Ann", "email": "ann@example.org",
                             "country": "IT", "organisation_id": "O", "max_load": 1,
                             "expertise_areas": ["housing", 3]}])
    assert messages(result) == ["row 1, field id: must be text",
                                "row 1, field expertise_areas: must be a list of text items"]


# ------------------------------------------------------------------ dedupe
def test_duplicate_email_in_one_import_names_the_first_row():
    result = parse_csv(csv_text("E-1,Ann,ann@example.org,DE,ORG-1,housing,,2,,",
                                "E-2,Ann again,ANN@example.org,DE,ORG-1,housing,,2,,"))
    assert messages(result) == ["row 3, field email: ann@example.org duplicates row 2"]
    assert [e.id for e in result.experts] == ["E-1"]


def test_duplicate_id_in_one_import():
    result = parse_csv(csv_text("E-1,Ann,ann@example.org,DE,ORG-1,housing,,2,,",
                                "E-1,Bob,bob@example.org,DE,ORG-1,housing,,2,,"))
    assert messages(result) == ["row 3, field id: E-1 duplicates row 2"]


def test_merge_adds_new_updates_known_and_keeps_unchanged():
    roster = [ann(), ann(id="E-2", email="bob@example.org", name="Bob")]
    result = parse_csv(csv_text("E-1,Ann Example,ann@example.org,DE,ORG-1,housing,,5,,",
                                "E-2,Bob,bob@example.org,DE,ORG-1,housing,,3,,",
                                "E-3,Cleo,cleo@example.org,FR,ORG-3,health,,1,,"))
    change = merge_import(roster, result)
    assert [e.id for e in change.added] == ["E-3"]
    assert [(e.id, e.max_load, diff) for e, diff in change.updated] == [("E-1", 5, ("max_load",))]
    assert [e.id for e in change.unchanged] == ["E-2"] and change.issues == ()


def test_merge_does_not_reactivate_unless_the_row_says_so():
    roster = [deactivate(ann())]
    absent = parse_csv("id,name,email,country,organisation_id,expertise_areas,max_load\n"
                       "E-1,Ann Example,ann@example.org,DE,ORG-1,housing,3\n")
    assert merge_import(roster, absent).unchanged == (roster[0],)
    explicit = parse_csv(csv_text("E-1,Ann Example,ann@example.org,DE,ORG-1,housing,,3,,yes"))
    ((expert, diff),) = merge_import(roster, explicit).updated
    assert expert.active and diff == ("active",)


def test_merge_refuses_to_repoint_an_email_or_an_id():
    roster = [ann()]
    result = parse_csv(csv_text("E-9,Ann,ann@example.org,DE,ORG-1,housing,,2,,",
                                "E-1,Other,other@example.org,DE,ORG-1,housing,,2,,"))
    change = merge_import(roster, result)
    assert [str(i) for i in change.issues] == [
        "row 2, field id: ann@example.org belongs to expert E-1, not E-9",
        "row 3, field id: E-1 already belongs to ann@example.org"]
    assert change.added == () and change.updated == ()


# ------------------------------------------------------------------ edit, deactivate
def test_edit_validates_and_returns_changed_fields():
    new, changed = edit_expert(ann(), {"max_load": "5", "country": "fr", "keywords": ""})
    assert (new.max_load, new.country, new.keywords) == (5, "FR", ())
    assert changed == ("country", "max_load")


def test_edit_errors_name_field_and_rule():
    with pytest.raises(ExpertValidationError) as exc:
        edit_expert(ann(), {"id": "E-2", "active": False, "max_load": 0, "name": " ",
                            "shoe_size": 44})
    assert [str(i) for i in exc.value.issues] == [
        "field id: cannot be changed", "field active: use deactivate or reactivate",
        "field max_load: must be an integer >= 1", "field name: is required",
        "field shoe_size: is not a known field"]


def test_edit_email_must_stay_unique_in_the_roster():
    bob = ann(id="E-2", email="bob@example.org")
    with pytest.raises(ExpertValidationError, match="field email: is already used by expert E-2"):
        edit_expert(ann(), {"email": "BOB@example.org"}, roster=[ann(), bob])
    new, changed = edit_expert(ann(), {"email": "ann.new@example.org"}, roster=[ann(), bob])
    assert new.email == "ann.new@example.org" and changed == ("email",)


def test_deactivate_and_reactivate_are_idempotent():
    off = deactivate(ann())
    assert not off.active and not assignable(off) and deactivate(off) is off
    on = reactivate(off)
    assert on.active and assignable(on) and reactivate(on) is on


# ------------------------------------------------------------------ round trip
_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz -", min_size=1, max_size=12).map(
    str.strip).filter(bool)
# organisation ids keep to their documented character set (shared/identifiers.py)
_organisation = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._/:-]{0,11}", fullmatch=True)


@st.composite
def experts_(draw):
    n = draw(st.integers(1, 5))
    return [Expert(id=f"E-{i}", name=draw(_word), email=f"e{i}@example.org",
                   country=draw(st.sampled_from(["DE", "FR", "IT", "EL"])),
                   organisation_id=draw(_organisation),
                   expertise_areas=tuple(dict.fromkeys(draw(st.lists(_word, min_size=1, max_size=3)))),
                   keywords=tuple(dict.fromkeys(draw(st.lists(_word, max_size=3)))),
                   max_load=draw(st.integers(1, 20)),
                   languages=tuple(dict.fromkeys(draw(st.lists(st.sampled_from(["en", "fr"]))))),
                   active=draw(st.booleans())) for i in range(n)]


@given(experts_())
def test_csv_written_from_experts_reads_back_identically(pool):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER.split(","))
    for e in pool:
        writer.writerow([e.id, e.name, e.email, e.country, e.organisation_id,
                         ";".join(e.expertise_areas), ";".join(e.keywords), e.max_load,
                         ";".join(e.languages), str(e.active).lower()])
    result = parse_csv(out.getvalue())
    assert result.ok and list(result.experts) == pool


# ------------------------------------------------------------------ domain purity
DOMAIN = Path(__file__).resolve().parents[3] / "services" / "evaluation" / "domain"
ALLOWED_PREFIXES = ("shared.events", "shared.calls.model", "shared.identifiers",
                    "services.evaluation.domain")


@pytest.mark.parametrize("module", ["experts", "conflicts", "reports", "consensus", "ranking",
                                    "summary"])
def test_domain_module_imports_only_stdlib_shared_events_and_call_model(module):
    tree = ast.parse((DOMAIN / f"{module}.py").read_text())
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
        for name in names:
            assert (name.split(".")[0] in sys.stdlib_module_names
                    or name.startswith(ALLOWED_PREFIXES)), f"{module} imports {name}"
