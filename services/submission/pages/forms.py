"""The proposal form: its fields are named by the API's field paths
(``coordinator.country``, ``co_applicants[2].contact_email``), so a posted form becomes
the JSON body of ``POST/PATCH /proposals`` and each error the schema finds lands on the
field it names."""
from __future__ import annotations

import re

from shared.pages.forms import text

PARTICIPANT_TEXT = ("legal_name", "organisation_id", "country", "entity_type", "contact_email")
PARTICIPANT_FLAGS = ("local_or_regional_authority", "experienced_in_integration")
FORM_TEXT = ("acronym", "title", "abstract", "total_eligible_costs", "requested_grant")
BLANK_ROWS = 2  # empty partner rows offered below the partners already there
MAX_ROWS = 100  # the schema's bound on co-applicants
_ROW = re.compile(r"^co_applicants\[(\d+)\]")


def _participant(form, prefix: str) -> dict:
    data = {name: text(form, f"{prefix}.{name}").strip() for name in PARTICIPANT_TEXT}
    data["country"] = data["country"].upper()
    data.update({flag: form.get(f"{prefix}.{flag}") == "yes" for flag in PARTICIPANT_FLAGS})
    return data


def _blank(participant: dict) -> bool:
    return not any(participant[name] for name in PARTICIPANT_TEXT)


def _months(value: str):
    return int(value) if value.isdigit() else value  # the schema names what is wrong


def body_from_form(form) -> tuple[dict, list[int]]:
    """The API body, and for each co-applicant in it the form row it came from (blank
    and removed rows are left out, so the body's indexes differ from the form's)."""
    body = {name: text(form, name).strip() if name != "abstract" else text(form, name)
            for name in FORM_TEXT}
    body["duration_months"] = _months(text(form, "duration_months").strip())
    body["integration_areas"] = [a for a in form.getlist("integration_areas")[:50] if a]
    body["coordinator"] = _participant(form, "coordinator")
    rows = min(int(form.get("partner_rows", "0") or 0) if str(form.get("partner_rows", "0")
                                                              ).isdigit() else 0, MAX_ROWS + 5)
    body["co_applicants"], row_of = [], []
    for row in range(rows):
        prefix = f"co_applicants[{row}]"
        partner = _participant(form, prefix)
        if _blank(partner) or form.get(f"{prefix}.remove") == "yes":
            continue
        body["co_applicants"].append(partner)
        row_of.append(row)
    return body, row_of


def form_errors(errors: list[dict], row_of: list[int]) -> list[dict]:
    """The schema's errors renamed to the form's field names (co-applicant rows)."""
    renamed = []
    for error in errors:
        field = error["field"]
        match = _ROW.match(field)
        if match and int(match.group(1)) < len(row_of):
            field = f"co_applicants[{row_of[int(match.group(1))]}]" + field[match.end():]
        renamed.append({**error, "field": field})
    return renamed


def form_from_proposal(proposal: dict) -> dict:
    """What the form shows for a stored proposal (the API's ``ProposalSchema`` view)."""
    return {"acronym": proposal["acronym"], "title": proposal["title"],
            "abstract": proposal["abstract"], "duration_months": proposal["duration_months"],
            "total_eligible_costs": proposal["total_eligible_costs"],
            "requested_grant": proposal["requested_grant"],
            "integration_areas": proposal["integration_areas"],
            "coordinator": proposal["coordinator"],
            "co_applicants": proposal["co_applicants"]}
