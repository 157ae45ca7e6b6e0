"""One proposal through all services over the real broker, databases and SMTP server."""
import pytest

from tests.integration.backbone.helpers import CONTACTS, skeleton_proposal, submit
from tests.support.infra import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_a_submitted_proposal_reaches_every_service_and_mails_each_contact(stack):
    stack.start("submission", "evaluation", "grants", "notifications", "operations")
    proposal_id = skeleton_proposal(stack)

    receipt = submit(stack, proposal_id)
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["version"] == 1

    mails = eventually(lambda: len(stack.smtp.messages()) == 2 and stack.smtp.messages(),
                       message="a receipt for each contact")
    assert sorted(m["rcpt_tos"][0] for m in mails) == sorted(CONTACTS)
    assert all(receipt.json()["content_hash"] in m["text"] for m in mails)

    timeline = eventually(lambda: (lambda t: len(t) >= 3 and t)(
        stack.api("operations").get(f"/proposals/{proposal_id}/timeline").json()))
    assert [e["event_type"] for e in timeline].count("proposal_submitted") == 1
    assert [e["event_type"] for e in timeline].count("notification_delivered") == 2
