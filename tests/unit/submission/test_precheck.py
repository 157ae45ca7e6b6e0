"""The eligibility pre-check is the call's screening run on a working copy: each failed
rule named with the same message, before the applicant submits."""
from decimal import Decimal

from services.submission.domain.precheck import precheck
from tests.unit.submission.factories import (AT_DEADLINE, BEFORE, CALL, content, draft,
                                             participant)


def _rules(result) -> list[str]:
    return [f.rule for f in result.failed_rules]


def test_a_complete_draft_passes_every_rule():
    result = precheck(CALL, draft(), BEFORE)
    assert result.passed and result.failed_rules == ()


def test_each_failed_rule_is_named_with_the_screening_message():
    body = content(co_applicants=(participant("Lyon", "FR"),), parts=(),
                   requested_grant=Decimal("950000.00"))
    result = precheck(CALL, draft(body), BEFORE)
    assert _rules(result) == ["required_parts"] * 3 + ["min_entities", "cofinancing_rate"]
    assert "more than 90 % of the total eligible costs" in result.failed_rules[-1].message


def test_after_the_deadline_the_check_says_it_would_be_late():
    assert "submitted_on_time" in _rules(precheck(CALL, draft(), AT_DEADLINE))


def test_the_same_project_in_another_topic_of_the_applicant_fails_single_topic():
    mine = draft(proposal_id="P-2", topic_id="AMIF-2018-AG-INTE-2")
    mine.submit(received_at=BEFORE, deadline=CALL.deadline)
    assert "single_topic" in _rules(precheck(CALL, draft(), BEFORE, [mine]))
    unsubmitted = draft(proposal_id="P-3", topic_id="AMIF-2018-AG-INTE-2")
    assert "single_topic" not in _rules(precheck(CALL, draft(), BEFORE, [unsubmitted]))
