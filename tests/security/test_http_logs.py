"""Issue 10, findings 4 and 8 (logs, HTTP side): no e-mail address or token reaches a
service's log, not even through eventlet's access log (which prints query strings) or a
refusal's message; a refused request is one line without its body."""
from __future__ import annotations

import re

import pytest

from shared.auth import DEFAULT_DEV_SECRET, issue_token
from shared.config import SERVICES

pytestmark = pytest.mark.integration
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")


def log_text(stack, name: str) -> str:
    return stack.processes[name].log_path.read_text(errors="replace")


def test_addresses_and_tokens_are_masked_in_access_logs_and_refusals(shared_stack):
    operations = shared_stack.api("notifications")
    token = issue_token(DEFAULT_DEV_SECRET, "someone.private@example.org", "operations")
    assert operations.get("/notifications", params={
        "recipient": "someone.private@example.org"}).status_code == 200
    assert operations.get(f"/notifications?recipient=x&token={token}").status_code == 422
    # a refusal whose message names an address (the caller would not stay a contact)
    submission = shared_stack.api("submission", "applicant", "someone.private@example.org")
    from tests.support.submission_data import proposal_body
    assert submission.post("/proposals", json=proposal_body()).status_code == 422

    for name in ("notifications", "submission"):
        text = log_text(shared_stack, name)
        assert "someone.private" not in text and token not in text
        assert token.split(".")[0] not in text
    # masked, not dropped: the same address always gives the same mark
    assert "recipient=<email:" in log_text(shared_stack, "notifications")


def test_a_refused_request_is_one_line_without_its_body(shared_stack):
    applicant = shared_stack.api("grants", "applicant", "coordinator@example.org")
    marker = "BODY-MARKER-" * 50_000  # 600 kB of reason
    refused = applicant.post("/grants/GRANT-X/decline", json={"reason": marker})
    assert refused.status_code == 422
    text = log_text(shared_stack, "grants")
    assert "BODY-MARKER" not in text
    lines = [line for line in text.splitlines() if "/grants/<grant_id>/decline" in line
             and "refused" in line]
    assert lines and lines[-1].endswith("422 validation_failed (fields reason)")
    assert "Traceback" not in text


def test_no_service_log_holds_an_email_address(shared_stack):
    """After everything the session's stack has been through (the input tests, these)."""
    for name in SERVICES:
        found = EMAIL.findall(log_text(shared_stack, name))
        assert not found, f"{name} logged {found[:3]}"
