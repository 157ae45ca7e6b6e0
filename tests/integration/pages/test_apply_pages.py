"""The applicants' pages over HTTP (no browser): a draft made with the form, each
refusal at its field, the pre-check naming the call's failed rule, parts uploaded,
submission and the receipt, versions, and someone else's proposal kept out of sight.
The browser journey (tests/e2e/test_pages_journey.py) walks the same pages in Chromium."""
import re

import pytest

from tests.support.pages_client import Visitor, sign_in, wait_for_link
from tests.support.submission_data import call_yaml

pytestmark = pytest.mark.integration

CALL = "AMIF-2018-AG-INTE"
TOPIC = f"{CALL}-1"


def signed_in(stack, email: str) -> Visitor:
    base = stack.url("submission")
    person = Visitor()
    person.get(f"{base}/apply/sign-in")
    person.post(f"{base}/apply/sign-in", {"email": email})
    sign_in(person, wait_for_link(stack.smtp, email))
    return person


def participant(prefix: str, name: str, country: str, email: str, lra=True, exp=False) -> dict:
    data = {f"{prefix}.legal_name": name, f"{prefix}.organisation_id": f"ORG-{name}",
            f"{prefix}.country": country, f"{prefix}.entity_type": "public_body",
            f"{prefix}.contact_email": email}
    if lra:
        data[f"{prefix}.local_or_regional_authority"] = "yes"
    if exp:
        data[f"{prefix}.experienced_in_integration"] = "yes"
    return data


def test_an_applicant_drafts_checks_fixes_uploads_and_submits(stack):
    stack.start("submission", "notifications")
    assert stack.api("submission").post("/calls", data=call_yaml().encode()).status_code == 201
    base = stack.url("submission")
    me = signed_in(stack, "ghent@example.eu")

    me.get(f"{base}/apply/")
    assert f"Start a proposal for {TOPIC}" in me.text()
    form = me.get(f"{base}/apply/calls/{CALL}/new?topic_id={TOPIC}")
    assert 'value="ghent@example.eu"' in form.text  # the coordinator contact: me

    draft = {"topic_id": TOPIC, "acronym": "NETINT", "title": "Network for integration",
             "abstract": "Cities learn together.", "duration_months": "24",
             "total_eligible_costs": "1000000.00", "requested_grant": "950000.00",
             "integration_areas": ["housing"], "partner_rows": "2",
             **participant("coordinator", "Ghent", "BE", "ghent@example.eu", exp=True),
             **participant("co_applicants[0]", "Lyon", "fr", "europe@lyon.example.eu"),
             "co_applicants[1].country": "XX"}  # a half-filled row: named at its field

    refused = me.post(f"{base}/apply/calls/{CALL}/new", draft)
    assert refused.status_code == 422
    assert re.search(r'href="#f-co_applicants-1-legal_name">co_applicants\[1\]\.legal_name', refused.text)
    assert 'value="Lyon"' in refused.text  # what was typed is kept

    draft.update({"co_applicants[1].country": "", "duration_months": "24"})
    created = me.post(f"{base}/apply/calls/{CALL}/new", draft)
    assert created.status_code == 200 and "Your draft is created" in created.text
    proposal_url = created.url.split("?")[0]
    proposal_id = proposal_url.rsplit("/", 1)[1]
    assert "Lyon" in created.text and 'value="FR"' in created.text  # upper-cased

    # the pre-check runs the call's rules: missing parts, too few entities, 95 % grant
    check = me.text()
    assert "cofinancing rate" in check and "more than 90 % of the total eligible costs" in check
    assert "min entities" in check and "The required part 'part_a' is missing." in check

    # fix: a third partner and 80 %
    fixed = {k: v for k, v in draft.items() if k != "topic_id"}
    fixed.update(requested_grant="800000.00", partner_rows="3",
                 **participant("co_applicants[1]", "Bologna", "IT", "ue@bologna.example.it"))
    saved = me.post(proposal_url, fixed)
    assert "Your changes are saved" in saved.text
    assert "cofinancing rate" not in me.text() and "min entities" not in me.text()

    for name in ("part_a", "part_b", "budget"):
        uploaded = me.post(f"{proposal_url}/parts/{name}",
                           files={"file": (f"{name}.pdf", b"%PDF-1.4 " + name.encode())})
        assert "The part is uploaded." in uploaded.text
    assert "Every rule of the call passes" in me.text() or "mind the warnings" in me.text()
    part = me.get(f"{proposal_url}/parts/part_b")
    assert part.content == b"%PDF-1.4 part_b"

    me.get(proposal_url)
    receipt = me.post(f"{proposal_url}/submit")
    assert receipt.url.endswith(f"/apply/proposals/{proposal_id}/versions/1?done=submitted")
    shown_hash = re.search(r'id="content-hash">([0-9a-f]{64})<', receipt.text).group(1)
    api = stack.api("submission", role="applicant", email="ghent@example.eu")
    assert api.get(f"/proposals/{proposal_id}").json()["versions"][0]["content_hash"] == shown_hash

    # another applicant sees nothing of it
    other = signed_in(stack, "someone@else.example")
    assert other.get(proposal_url).status_code == 404
    assert other.get(f"{proposal_url}/parts/part_a").status_code == 404
    assert "NETINT" not in other.get(f"{base}/apply/").text
