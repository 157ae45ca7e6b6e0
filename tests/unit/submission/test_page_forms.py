"""The proposal form becomes the API's body; the schema's errors land on the form's
fields (co-applicant rows keep their numbers when blank or removed rows are skipped)."""
from werkzeug.datastructures import MultiDict

from services.submission.pages.forms import body_from_form, form_errors


def _partner(row: int, name: str, country: str) -> dict:
    prefix = f"co_applicants[{row}]"
    return {f"{prefix}.legal_name": name, f"{prefix}.organisation_id": f"ORG-{name}",
            f"{prefix}.country": country, f"{prefix}.entity_type": "public_body",
            f"{prefix}.contact_email": f"{name.lower()}@example.eu",
            f"{prefix}.local_or_regional_authority": "yes"}


def test_blank_and_removed_rows_are_left_out_and_errors_keep_the_form_rows():
    form = MultiDict({"acronym": " NET ", "duration_months": "24", "partner_rows": "4",
                      "total_eligible_costs": "1000000", "requested_grant": "800000",
                      "coordinator.legal_name": "Ghent", "coordinator.country": "be",
                      **_partner(0, "Lyon", "FR"), **_partner(1, "Gone", "IT"),
                      "co_applicants[1].remove": "yes", **_partner(3, "Riga", "LV")})
    form.setlist("integration_areas", ["housing", "", "labour_market"])
    body, rows = body_from_form(form)
    assert body["acronym"] == "NET" and body["duration_months"] == 24
    assert body["coordinator"]["country"] == "BE"
    assert body["coordinator"]["local_or_regional_authority"] is False
    assert [p["legal_name"] for p in body["co_applicants"]] == ["Lyon", "Riga"]
    assert body["co_applicants"][1]["local_or_regional_authority"] is True
    assert body["integration_areas"] == ["housing", "labour_market"]
    assert rows == [0, 3]
    errors = form_errors([{"field": "co_applicants[1].country", "rule": "bad"},
                          {"field": "acronym", "rule": "short"}], rows)
    assert [e["field"] for e in errors] == ["co_applicants[3].country", "acronym"]


def test_a_month_count_that_is_not_a_number_is_left_for_the_schema_to_name():
    body, _ = body_from_form(MultiDict({"duration_months": "two years", "partner_rows": "x"}))
    assert body["duration_months"] == "two years" and body["co_applicants"] == []
