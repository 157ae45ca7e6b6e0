"""The Proposal aggregate: versions, the deadline, withdrawal, freezing, events."""
import hashlib
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.submission.domain.errors import DeadlinePassed, InvalidProposal, \
    InvalidTransition
from services.submission.domain.proposal import Proposal, State
from shared.events import ProposalSubmitted, ProposalWithdrawn, dump, load

from .factories import (AT_DEADLINE, BEFORE, BRUSSELS, CALL, ON_TIME, TOPIC_1, content,
                        draft, part, participant)

UTC = timezone.utc
DEADLINE = CALL.deadline
AFTER = AT_DEADLINE + timedelta(hours=1)


def submitted(at=BEFORE):
    proposal = draft()
    proposal.submit(received_at=at, deadline=DEADLINE)
    return proposal


# ----------------------------------------------------------------------- draft and edit
def test_a_draft_is_created_and_edited_before_the_deadline():
    proposal = draft()
    proposal.edit(now=BEFORE, deadline=DEADLINE, title="Better title")
    assert proposal.state is State.DRAFT
    assert proposal.content.title == "Better title"
    assert proposal.versions == [] and proposal.events == []


def test_no_draft_is_created_from_the_deadline_on():
    with pytest.raises(DeadlinePassed):
        Proposal.create_draft(proposal_id="P-9", call_id=CALL.id, topic_id=TOPIC_1,
                              content=content(), now=AT_DEADLINE, deadline=DEADLINE)


def test_edits_are_refused_from_the_deadline_on():
    proposal = submitted()
    with pytest.raises(DeadlinePassed):
        proposal.edit(now=AT_DEADLINE, deadline=DEADLINE, title="Too late")
    assert proposal.content.title == "Network for integration"


def test_unknown_fields_and_float_money_are_refused():
    proposal = draft()
    with pytest.raises(InvalidProposal):
        proposal.edit(now=BEFORE, deadline=DEADLINE, budget_colour="red")
    with pytest.raises(InvalidProposal):
        proposal.edit(now=BEFORE, deadline=DEADLINE, requested_grant=800000.0)
    with pytest.raises(InvalidProposal):
        proposal.edit(now=BEFORE, deadline=DEADLINE, requested_grant=Decimal("1.001"))
    assert proposal.content.requested_grant == Decimal("800000.00")


# ----------------------------------------------------------------------- submit
def test_submission_strictly_before_the_deadline_gives_a_receipt_and_an_event():
    proposal = draft()
    receipt = proposal.submit(received_at=ON_TIME, deadline=DEADLINE)
    assert (receipt.proposal_id, receipt.version) == ("P-1", 1)
    assert receipt.received_at == ON_TIME
    assert receipt.received_at_utc == "2019-01-31T15:59:59.000000+00:00"
    assert receipt.content_hash == proposal.content.content_hash(CALL.id, TOPIC_1)
    assert proposal.state is State.SUBMITTED
    [event] = proposal.pull_events()
    assert isinstance(event, ProposalSubmitted)
    assert (event.version, event.content_hash, event.received_at) == \
        (1, receipt.content_hash, ON_TIME)
    assert event.applicant_name == "Ghent"
    assert event.contact_emails == ["ghent@example.eu", "lyon@example.eu", "bologna@example.eu"]
    assert proposal.events == []  # pulled
    assert load(json.loads(json.dumps(dump(event)))) == event  # fits the contract


@pytest.mark.parametrize("received_at", [
    AT_DEADLINE, datetime(2019, 1, 31, 16, 30, tzinfo=UTC), AFTER])
def test_submission_at_or_after_the_deadline_fails_and_changes_nothing(received_at):
    proposal = draft()
    with pytest.raises(DeadlinePassed):
        proposal.submit(received_at=received_at, deadline=DEADLINE)
    assert proposal.state is State.DRAFT
    assert proposal.versions == [] and proposal.events == []


def test_editing_after_submission_counts_only_once_resubmitted():
    proposal = submitted()
    first = proposal.latest_version
    proposal.edit(now=BEFORE, deadline=DEADLINE, abstract="Revised.")
    assert proposal.has_unsubmitted_changes
    assert proposal.latest_version is first  # the edit alone is not a version
    receipt = proposal.resubmit(received_at=ON_TIME, deadline=DEADLINE)
    assert receipt.version == 2
    assert receipt.content_hash != first.content_hash
    assert first.content.abstract == "Cities learn together."  # version 1 is immutable
    assert not proposal.has_unsubmitted_changes
    assert [e.version for e in proposal.pull_events()] == [1, 2]


def test_resubmission_after_the_deadline_fails_and_changes_nothing():
    proposal = submitted()
    proposal.pull_events()
    proposal.edit(now=BEFORE, deadline=DEADLINE, abstract="Revised.")
    with pytest.raises(DeadlinePassed):
        proposal.resubmit(received_at=AT_DEADLINE, deadline=DEADLINE)
    assert len(proposal.versions) == 1 and proposal.events == []
    assert proposal.state is State.SUBMITTED


def test_submit_and_resubmit_follow_the_state():
    proposal = submitted()
    with pytest.raises(InvalidTransition):
        proposal.submit(received_at=ON_TIME, deadline=DEADLINE)
    with pytest.raises(InvalidTransition):
        draft().resubmit(received_at=ON_TIME, deadline=DEADLINE)


def test_a_receipt_time_earlier_than_the_previous_version_is_refused():
    proposal = submitted(at=ON_TIME)
    with pytest.raises(InvalidTransition):
        proposal.resubmit(received_at=BEFORE, deadline=DEADLINE)
    assert len(proposal.versions) == 1


# ----------------------------------------------------------------------- content hash
def test_content_hash_is_sha256_of_the_canonical_form():
    body = content()
    canonical = json.dumps(body.hashed_form(CALL.id, TOPIC_1), sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert body.content_hash(CALL.id, TOPIC_1) == hashlib.sha256(canonical).hexdigest()


def test_content_hash_covers_parts_and_money_but_not_decimal_spelling():
    body = content()
    same_amount = content(requested_grant=Decimal("800000"))
    other_part = content(parts=(part("part_a"), part("part_b", body=b"v2"), part("budget")))
    reordered_parts = content(parts=tuple(reversed(body.parts)))
    digest = body.content_hash(CALL.id, TOPIC_1)
    assert same_amount.content_hash(CALL.id, TOPIC_1) == digest
    assert reordered_parts.content_hash(CALL.id, TOPIC_1) == digest
    assert other_part.content_hash(CALL.id, TOPIC_1) != digest
    assert body.content_hash(CALL.id, "AMIF-2018-AG-INTE-2") != digest


# ----------------------------------------------------------------------- withdraw
def test_withdrawing_a_submitted_proposal_is_announced_and_final():
    proposal = submitted()
    proposal.pull_events()
    proposal.withdraw(now=ON_TIME, reason="partner left")
    assert proposal.state is State.WITHDRAWN
    [event] = proposal.pull_events()
    assert isinstance(event, ProposalWithdrawn)
    assert (event.withdrawn_at, event.reason, event.topic_id) == (ON_TIME, "partner left", TOPIC_1)
    with pytest.raises(InvalidTransition):
        proposal.resubmit(received_at=ON_TIME, deadline=DEADLINE)
    with pytest.raises(InvalidTransition):
        proposal.withdraw(now=ON_TIME)


def test_withdrawing_a_never_submitted_draft_tells_nobody():
    proposal = draft()
    proposal.withdraw(now=BEFORE)
    assert proposal.state is State.WITHDRAWN and proposal.events == []


# ----------------------------------------------------------------------- freeze
def test_freeze_keeps_the_last_on_time_version_and_drops_unsubmitted_edits():
    proposal = submitted()
    proposal.edit(now=BEFORE, deadline=DEADLINE, abstract="v2")
    proposal.resubmit(received_at=ON_TIME, deadline=DEADLINE)
    proposal.edit(now=ON_TIME, deadline=DEADLINE, abstract="never sent")
    version = proposal.freeze(deadline=DEADLINE, now=AT_DEADLINE)
    assert version.number == 2 and version.content.abstract == "v2"
    assert proposal.state is State.FROZEN
    assert proposal.content.abstract == "v2"
    assert proposal.freeze(deadline=DEADLINE, now=AFTER) is version  # idempotent
    assert proposal.frozen().version is version
    with pytest.raises(InvalidTransition):
        proposal.edit(now=BEFORE, deadline=DEADLINE, abstract="x")


def test_freeze_with_an_amended_earlier_deadline_keeps_the_version_before_it():
    proposal = submitted(at=BEFORE)
    proposal.resubmit(received_at=ON_TIME, deadline=DEADLINE)
    earlier = datetime(2019, 1, 20, 17, 0, tzinfo=BRUSSELS)
    assert proposal.freeze(deadline=earlier, now=AT_DEADLINE).number == 1


def test_freeze_is_refused_before_the_deadline_and_skips_drafts():
    with pytest.raises(InvalidTransition):
        submitted().freeze(deadline=DEADLINE, now=ON_TIME)
    never_sent = draft()
    assert never_sent.freeze(deadline=DEADLINE, now=AT_DEADLINE) is None
    assert never_sent.state is State.DRAFT
    with pytest.raises(InvalidTransition):
        never_sent.frozen()


def test_a_frozen_proposal_can_still_be_withdrawn():
    proposal = submitted()
    proposal.freeze(deadline=DEADLINE, now=AT_DEADLINE)
    proposal.withdraw(now=AFTER)
    assert proposal.state is State.WITHDRAWN


# ----------------------------------------------------------------------- access
def test_contacts_are_every_participant_case_insensitively():
    proposal = draft(content(co_applicants=(participant("Lyon", "FR", email="Team@Lyon.FR"),
                                            participant("Bologna", "IT"))))
    assert proposal.is_contact("ghent@example.eu")
    assert proposal.is_contact("team@lyon.fr ")
    assert not proposal.is_contact("someone@else.eu")
    proposal.edit(now=BEFORE, deadline=DEADLINE, co_applicants=(participant("Bologna", "IT"),))
    assert not proposal.is_contact("team@lyon.fr")


# ----------------------------------------------------------------------- adapter-facing
def test_withdrawal_is_refused_once_the_ranking_is_published_and_nothing_changes():
    from services.submission.domain.errors import WithdrawalClosed
    proposal = submitted()
    proposal.pull_events()
    with pytest.raises(WithdrawalClosed, match="declines the grant"):
        proposal.withdraw(now=AFTER, ranking_published=True)
    assert proposal.state is State.SUBMITTED and proposal.events == []


def test_a_proposal_rebuilt_with_only_its_latest_version_numbers_the_next_one():
    first = submitted()
    stored = Proposal(first.id, first.call_id, first.topic_id, first.content, State.SUBMITTED,
                      versions=(first.versions[-1],))
    second = stored.resubmit(received_at=ON_TIME, deadline=DEADLINE)
    assert second.version == 2
    assert second.content_hash == first.versions[0].content_hash  # content unchanged


def test_a_part_file_name_is_not_part_of_the_content_hash():
    import dataclasses
    named = content(parts=(dataclasses.replace(part("part_a"), filename="a.pdf"),
                           part("part_b"), part("budget")))
    assert named.content_hash(CALL.id, TOPIC_1) == content().content_hash(CALL.id, TOPIC_1)
    assert named != content()  # but it is a change of the working copy
