"""Screening = admissibility + eligibility, every failure at once, warnings apart."""
import json
from datetime import timedelta

from services.submission.domain.screening import screen, screen_all
from shared.events import ProposalScreened, dump, load

from .factories import (AT_DEADLINE, CALL, ON_TIME, TOPIC_2, content, draft, frozen, part,
                        participant)


def test_a_complete_eligible_proposal_passes():
    result = screen(CALL, frozen())
    assert (result.admissible, result.eligible, result.passed) == (True, True, True)
    assert result.failed_rules == () and result.warnings == ()


def test_missing_and_empty_parts_make_it_inadmissible_naming_each_part():
    body = content(parts=(part("part_a"), part("budget", size=0)))
    result = screen(CALL, frozen(body))
    assert not result.admissible and result.eligible and not result.passed
    assert [(f.rule, f.kind, f.values) for f in result.failed_rules] == [
        ("required_parts", "admissibility", {"part": "part_b", "problem": "missing"}),
        ("required_parts", "admissibility", {"part": "budget", "problem": "empty"})]


def test_a_version_received_after_an_amended_earlier_deadline_is_inadmissible():
    result = screen(CALL, frozen(received_at=CALL.deadline + timedelta(seconds=1)))
    assert not result.admissible
    assert [f.rule for f in result.failed_rules] == ["submitted_on_time"]


def test_all_failures_are_listed_admissibility_first_and_warnings_apart():
    body = content(co_applicants=(participant("Aarhus", "DK", lra=False,
                                              entity_type="non_profit_private"),),
                   duration_months=37, parts=(part("part_a"), part("part_b")))
    result = screen(CALL, frozen(body))
    assert (result.admissible, result.eligible) == (False, False)
    kinds = [f.kind for f in result.failed_rules]
    assert kinds == sorted(kinds)  # "admissibility" < "eligibility"
    assert {f.rule for f in result.failed_rules} == {
        "required_parts", "participating_country", "min_entities", "min_member_states",
        "max_duration"}
    assert {w.rule for w in result.warnings} == {"network_composition"}


def test_warnings_alone_leave_the_proposal_eligible():
    ngo = dict(entity_type="non_profit_private", lra=False)
    body = content(co_applicants=(participant("NGO1", "FR", **ngo), participant("NGO2", "IT", **ngo)))
    result = screen(CALL, frozen(body))
    assert result.passed and len(result.warnings) == 2


def test_screen_all_checks_each_proposal_against_the_others():
    first = frozen(proposal_id="P-1")
    copy = frozen(proposal_id="P-2", topic_id=TOPIC_2)
    unrelated = frozen(content(acronym="OTHER"), proposal_id="P-3", topic_id=TOPIC_2)
    results = {r.proposal_id: r for r in screen_all(CALL, [first, copy, unrelated])}
    assert not results["P-1"].eligible and not results["P-2"].eligible
    assert results["P-3"].eligible


def test_the_screening_event_carries_every_failure_and_fits_the_contract():
    proposal = draft(content(duration_months=37))
    proposal.submit(received_at=ON_TIME, deadline=CALL.deadline)
    proposal.freeze(deadline=CALL.deadline, now=AT_DEADLINE)
    proposal.pull_events()
    result = screen(CALL, proposal.frozen())
    proposal.record_screening(result, now=AT_DEADLINE)
    [event] = proposal.pull_events()
    assert isinstance(event, ProposalScreened) and not event.eligible
    assert event.failed_rules == [f.to_dict() for f in result.failed_rules]
    assert event.proposal["duration_months"] == 37
    again = load(json.loads(json.dumps(dump(event))))
    assert again.failed_rules == event.failed_rules
    assert again.proposal["participants"][0]["role"] == "coordinator"


def test_rivals_give_every_proposal_the_same_screening_as_comparing_with_all():
    """The index behind bulk screening finds exactly the proposals ``single_topic``
    compares, look-alike coordinator ids included (shared.identifiers)."""
    from services.submission.domain.screening import rivals
    from tests.unit.submission.factories import CALL, TOPIC_1, TOPIC_2, content, frozen, \
        participant
    lyon = [participant("Lyon", "FR", org=org, experienced=True)
            for org in ("FR-LYON", "fr-lyon", "FR\u2011LYON", "FR-LYONS")]
    proposals = [frozen(content(coordinator=coordinator, acronym=acronym),
                        proposal_id=f"P-{i}", topic_id=(TOPIC_1, TOPIC_2)[i % 2])
                 for i, (coordinator, acronym) in enumerate(
                     [(c, a) for c in lyon for a in ("NETINT", "netint ", "OTHER")])]
    others = rivals(proposals)
    for proposal in proposals:
        everyone = [o for o in proposals if o.proposal_id != proposal.proposal_id]
        assert screen(CALL, proposal, others(proposal)) == screen(CALL, proposal, everyone)
    failing = {p.proposal_id for p in proposals
               if "single_topic" in {f.rule for f in screen(CALL, p, others(p)).failed_rules}}
    # each project is in both topics, except FR-LYONS (another organisation) with OTHER
    assert failing == {p.proposal_id for p in proposals} - {"P-11"}
