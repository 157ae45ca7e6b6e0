"""Result letters: what each proposal is told, decided from the facts known about it.

Letters are not sent when a ranking is published but when the call reaches its
information-to-applicants milestone: until then the service only folds events into each
proposal's :class:`LetterFacts` (``update_facts``) and persists them. At the milestone it
asks :func:`result_letters` for every proposal; facts completed later (a ranking published
after the milestone) are sent as they complete. Each proposal's letter has one key per
recipient (``result-letter:<proposal id>``), whatever event triggers it, so it goes once.

Outcomes: selected (main list), reserve (with rank), rejected (with scores), inadmissible
and ineligible (with every failed rule). A withdrawn proposal gets no letter.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from shared.calls.model import Call
from shared.events import (EvaluationCompleted, Event, ProposalScreened, ProposalWithdrawn,
                           RankingPublished, TimetableStageReached)

from services.notifications.domain import notification as n
from services.notifications.domain.contexts import (INADMISSIBLE, INELIGIBLE, call_context,
                                                    evaluation_summary, rules_in_words,
                                                    screening_outcome, topic_context)
from shared.formatting import day, instant
from services.notifications.domain.notification import Notification
from services.notifications.domain.routing import contacts, notifications

SELECTED, RESERVE, REJECTED = "selected", "reserve", "rejected"
OUTCOMES = (SELECTED, RESERVE, REJECTED, INADMISSIBLE, INELIGIBLE)

#: the stage whose milestone releases the letters; a period stage publishes its start as
#: ``<stage>_start`` (shared.calls.model.milestones), an instant stage under its own name
RELEASE_STAGE = "information_to_applicants"


def is_release(event: Event) -> bool:
    """Whether ``event`` is the milestone at which result letters go out."""
    return isinstance(event, TimetableStageReached) and \
        event.stage in (RELEASE_STAGE, f"{RELEASE_STAGE}_start")


@dataclass(frozen=True)
class LetterFacts:
    """What notifications knows about one proposal's outcome; the service persists it
    (``as_record``/``from_record`` give a JSON-ready dict) and feeds it back."""

    proposal_id: str
    call_id: str
    topic_id: str
    acronym: str = ""
    contact_emails: tuple[str, ...] = ()
    screening: str | None = None  # eligible | ineligible | inadmissible
    failed_rules: tuple[dict, ...] = ()  # {rule, kind, message, values}
    evaluated: bool = False
    passed: bool | None = None
    scores: Mapping[str, Decimal] = field(default_factory=dict)
    comments: Mapping[str, str] = field(default_factory=dict)
    total: Decimal | None = None
    failed_thresholds: tuple[str, ...] = ()
    ranking_list: str | None = None  # main | reserve | rejected
    rank: int | None = None
    withdrawn: bool = False

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["scores"] = {k: str(v) for k, v in self.scores.items()}
        record["total"] = None if self.total is None else str(self.total)
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "LetterFacts":
        data = dict(record)
        data["scores"] = {k: Decimal(v) for k, v in data.get("scores", {}).items()}
        data["total"] = None if data.get("total") is None else Decimal(data["total"])
        for name in ("contact_emails", "failed_rules", "failed_thresholds"):
            data[name] = tuple(data.get(name, ()))
        return cls(**data)


# --------------------------------------------------------------------------- facts
def update_facts(known: Mapping[str, LetterFacts], event: Event) -> dict[str, LetterFacts]:
    """The facts ``event`` creates or changes, keyed by proposal id (others unchanged).

    Consumes proposal_screened, proposal_withdrawn, evaluation_completed and
    ranking_published; any other event changes nothing."""
    if isinstance(event, ProposalScreened):
        return {event.proposal_id: replace(
            _facts(known, event.proposal_id, event),
            acronym=event.proposal.get("acronym", ""), contact_emails=tuple(event.contact_emails),
            screening=screening_outcome(event.admissible, event.eligible),
            failed_rules=tuple(dict(r) for r in event.failed_rules))}
    if isinstance(event, ProposalWithdrawn):
        facts = _facts(known, event.proposal_id, event)
        return {event.proposal_id: replace(facts, withdrawn=True,
                                           acronym=facts.acronym or event.acronym,
                                           contact_emails=facts.contact_emails or
                                           tuple(event.contact_emails))}
    if isinstance(event, EvaluationCompleted):
        return {event.proposal_id: replace(
            _facts(known, event.proposal_id, event), evaluated=True, passed=event.passed,
            scores=dict(event.scores), comments=dict(event.comments), total=event.total,
            failed_thresholds=tuple(event.failed_thresholds), acronym=event.acronym,
            contact_emails=tuple(event.contact_emails))}
    if isinstance(event, RankingPublished):
        return dict(_ranked(known, event))
    return {}


def _facts(known: Mapping[str, LetterFacts], proposal_id: str, event) -> LetterFacts:
    return known.get(proposal_id) or LetterFacts(proposal_id=proposal_id, call_id=event.call_id,
                                                 topic_id=event.topic_id)


def _ranked(known: Mapping[str, LetterFacts], event: RankingPublished):
    for list_name, entries in (("main", event.main), ("reserve", event.reserve),
                               ("rejected", event.rejected)):
        for entry in entries:
            facts = _facts(known, entry["proposal_id"], event)
            if not facts.evaluated:  # the ranking's copy of the scores, until consensus
                facts = replace(facts, scores=dict(entry["scores"]), total=entry["total"],
                                failed_thresholds=tuple(entry.get("failed_thresholds") or ()))
            yield entry["proposal_id"], replace(
                facts, ranking_list=list_name, rank=entry.get("rank"),
                acronym=facts.acronym or entry["acronym"],
                contact_emails=facts.contact_emails or tuple(entry["contact_emails"]))


# --------------------------------------------------------------------------- decision
def letter_outcome(facts: LetterFacts) -> str | None:
    """The letter the facts call for, or None while none can (or ever will) be sent."""
    if facts.withdrawn or facts.screening is None:
        return None
    if facts.screening in (INADMISSIBLE, INELIGIBLE):
        return facts.screening
    if facts.ranking_list == "main":
        return SELECTED
    if facts.ranking_list == "reserve":
        return RESERVE
    if facts.ranking_list == "rejected" or facts.passed is False:
        return REJECTED  # below a threshold needs no ranking to be final
    return None


def pending_reason(facts: LetterFacts) -> str | None:
    """Why no letter can be sent yet (for operations), or None if one can or never will."""
    if facts.withdrawn or letter_outcome(facts) is not None:
        return None
    if facts.screening is None:
        return "not screened yet"
    if not facts.evaluated:
        return "evaluation not completed"
    return "ranking not published"


def result_letters(facts: Iterable[LetterFacts], call: Call, now: datetime,
                   source: Event) -> list[Notification]:
    """Every letter the facts allow, to each contact of each proposal.

    ``now`` is the release instant (it starts the redress period); ``source`` is the
    event that released them (the milestone, or the event that completed late facts)."""
    letters = []
    for proposal in facts:
        outcome = letter_outcome(proposal)
        if outcome is None:
            continue
        letters += notifications(source, contacts(proposal.contact_emails), n.RESULT_LETTER,
                                 letter_context(proposal, outcome, call, now),
                                 proposal_id=proposal.proposal_id,
                                 dedupe_id=f"result-letter:{proposal.proposal_id}")
    return letters


def letter_context(facts: LetterFacts, outcome: str, call: Call,
                   now: datetime) -> dict[str, Any]:
    screened_out = outcome in (INADMISSIBLE, INELIGIBLE)
    evaluation = None
    if not screened_out and facts.total is not None:
        evaluation = evaluation_summary(call, facts.scores, facts.comments, facts.total,
                                        facts.failed_thresholds)
    released = now.astimezone(ZoneInfo(call.timezone))
    return {
        **call_context(call), **topic_context(call, facts.topic_id),
        "proposal_id": facts.proposal_id, "acronym": facts.acronym, "outcome": outcome,
        "rank": facts.rank if outcome == RESERVE else None,
        "below_threshold": outcome == REJECTED and facts.passed is False,
        "failed_rules": rules_in_words(facts.failed_rules, call) if screened_out else [],
        "evaluation": evaluation,
        "dated": instant(now, call.timezone),  # the release instant, not a delivery time
        "redress": {"days": call.grants.redress_days,
                    "deadline": day((released + timedelta(days=call.grants.redress_days))
                                    .date()),
                    "timezone": call.timezone},
    }
