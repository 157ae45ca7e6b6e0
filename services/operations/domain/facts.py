"""What each event says about each proposal it concerns: a small JSON-safe fact and a line
of text for people.

Most events concern one proposal (``proposal_id``); ``deadline_closed`` concerns every
proposal in its manifest and ``ranking_published`` every proposal it ranks. Each gets its
own fact (its version, its list and rank), so a proposal's state can be derived from its
facts alone, without reading whole rankings again. Amounts are kept as text (exact).

A due date is stored in the summary as a mark holding its UTC instant (``[due:...]``) and
shown when read (:func:`show_due_dates`) as the mail shows it: the local date and time in
the call's zone, e.g. "1 November 2019, 00:00:00 CET (Europe/Brussels)". Stored summaries
so do not depend on whether the call was known when the event was projected (events
arrive in any order).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable
from zoneinfo import ZoneInfo

from shared.events import (DeadlineClosed, EvaluationCompleted, EvaluationReportSubmitted,
                           EvaluatorAssigned, EvaluatorReleased, Event, GrantDeclined,
                           GrantPreparationStarted, GrantSignatureRequested, GrantSigned,
                           NotificationDeferred, NotificationDelivered, NotificationFailed,
                           ProposalScreened, ProposalSubmitted, ProposalWithdrawn,
                           RankingPublished, ReservePromoted, TimeTargetBreached)


@dataclass(frozen=True)
class Fact:
    """One event as seen from one proposal."""

    event_id: str
    event_type: str
    occurred_at: datetime
    causation_id: str | None
    data: dict
    summary: str


def money(amount: Decimal | None) -> str:
    """``EUR 1,234.50`` for people."""
    return "-" if amount is None else f"EUR {Decimal(amount):,.2f}"


def _text(value) -> str | None:
    return None if value is None else str(value)


_DUE = re.compile(r"\[due:([^\]]+)\]")


def _day(instant: datetime) -> str:
    """The mark of a due instant in a stored summary (see :func:`show_due_dates`)."""
    return f"[due:{instant.astimezone(timezone.utc).isoformat()}]"


def due(instant: datetime, zone: str | None) -> str:
    """A due instant for people, in the call's zone like the mail: ``1 November 2019,
    00:00:00 CET (Europe/Brussels)``; in UTC, labelled so, when the zone is unknown."""
    local = instant.astimezone(ZoneInfo(zone) if zone else timezone.utc)
    return f"{local.day} {local:%B %Y}, {local:%H:%M:%S} " + (
        f"{local:%Z} ({zone})" if zone else "UTC")


def show_due_dates(summary: str, zone: str | None) -> str:
    """A stored summary with its due marks written out in ``zone`` (the call's)."""
    return _DUE.sub(lambda m: due(datetime.fromisoformat(m.group(1)), zone), summary)


def _rules(failed_rules: list) -> list[dict]:
    return [{"rule": r["rule"], "kind": r["kind"], "message": r.get("message", "")}
            for r in failed_rules]


# ------------------------------------------------------------------ one proposal each
def _submitted(e: ProposalSubmitted):
    data = {"topic_id": e.topic_id, "version": e.version, "acronym": e.acronym,
            "title": e.title, "applicant_name": e.applicant_name}
    return data, f"version {e.version} of {e.acronym} submitted (content {e.content_hash[:12]})"


def _withdrawn(e: ProposalWithdrawn):
    reason = f": {e.reason}" if e.reason else ""
    return ({"topic_id": e.topic_id, "acronym": e.acronym, "reason": e.reason},
            f"withdrawn by the applicant{reason}")


def _screened(e: ProposalScreened):
    rules = _rules(e.failed_rules)
    data = {"topic_id": e.topic_id, "version": e.version, "admissible": e.admissible,
            "eligible": e.eligible, "failed_rules": rules, "acronym": e.proposal.get("acronym"),
            "title": e.proposal.get("title"),
            "requested_grant": _text(e.proposal.get("requested_grant"))}
    failed = ", ".join(r["rule"] for r in rules)
    if not e.admissible:
        line = f"screened: inadmissible (failed: {failed})"
    elif not e.eligible:
        line = f"screened: ineligible (failed: {failed})"
    else:
        line = f"screened: admissible and eligible (version {e.version})"
    if e.warnings:
        line += f"; warnings: {', '.join(w['rule'] for w in e.warnings)}"
    return data, line


def _assigned(e: EvaluatorAssigned):
    return ({"topic_id": e.topic_id, "expert_id": e.expert_id, "expert_name": e.expert_name,
             "reason": e.reason},
            f"evaluator {e.expert_name} ({e.expert_id}) assigned ({e.reason}), "
            f"report due {_day(e.due_at)}")


def _released(e: EvaluatorReleased):
    return ({"topic_id": e.topic_id, "expert_id": e.expert_id, "reason": e.reason},
            f"evaluator {e.expert_name or e.expert_id} released ({e.reason.replace('_', ' ')})")


def _report(e: EvaluationReportSubmitted):
    kind = "final" if e.final else "draft"
    return ({"topic_id": e.topic_id, "expert_id": e.expert_id, "total": str(e.total),
             "final": e.final},
            f"{kind} evaluation report by {e.expert_id}: {e.total} points")


def _completed(e: EvaluationCompleted):
    data = {"topic_id": e.topic_id, "total": str(e.total), "passed": e.passed,
            "scores": {k: str(v) for k, v in e.scores.items()},
            "failed_thresholds": list(e.failed_thresholds), "method": e.method,
            "acronym": e.acronym}
    outcome = "passed" if e.passed else \
        f"below threshold (failed: {', '.join(e.failed_thresholds) or 'overall'})"
    spread = "; spread flagged" if e.spread_flagged else ""
    return data, f"consensus ({e.method}): {e.total} points, {outcome}{spread}"


def _preparation(e: GrantPreparationStarted):
    promoted = ", promoted from the reserve list" if e.promoted_from_reserve else ""
    return ({"topic_id": e.topic_id, "grant_id": e.grant_id, "max_grant": str(e.max_grant),
             "promoted_from_reserve": e.promoted_from_reserve},
            f"grant preparation started (grant {e.grant_id}, at most {money(e.max_grant)}"
            f"{promoted}); signatures due {_day(e.signature_deadline)}")


def _signature(e: GrantSignatureRequested):
    return ({"grant_id": e.grant_id, "party": e.party},
            f"signature requested from the {e.party}, due {_day(e.due_at)}")


def _signed(e: GrantSigned):
    return ({"topic_id": e.topic_id, "grant_id": e.grant_id, "amount": str(e.amount)},
            f"grant signed: {money(e.amount)} (pre-financing {money(e.prefinancing_amount)})")


def _declined(e: GrantDeclined):
    return ({"topic_id": e.topic_id, "grant_id": e.grant_id, "reason": e.reason,
             "freed_budget": str(e.freed_budget)},
            f"grant declined ({e.reason.replace('_', ' ')}); {money(e.freed_budget)} freed")


def _promoted(e: ReservePromoted):
    return ({"topic_id": e.topic_id, "rank": e.rank, "freed_by": e.freed_by},
            f"promoted from reserve rank {e.rank} (budget freed by {e.freed_by}; "
            f"{money(e.available_budget)} available)")


def _breached(e: TimeTargetBreached):
    measure = {"tti": "time to inform", "ttg": "time to grant"}.get(e.measure, e.measure)
    return ({"measure": e.measure, "days": e.days},
            f"{measure} target of {e.target_months} months breached ({e.days} days)")


def _delivered(e: NotificationDelivered):
    return ({"template": e.template, "recipient": e.recipient},
            f"{e.template.replace('_', ' ')} sent to {e.recipient}")


def _deferred(e: NotificationDeferred):
    return ({"template": e.template, "recipient": e.recipient, "reason": e.reason},
            f"{e.template.replace('_', ' ')} to {e.recipient} waits for a retry: {e.reason}")


def _failed(e: NotificationFailed):
    return ({"template": e.template, "recipient": e.recipient, "reason": e.reason},
            f"{e.template.replace('_', ' ')} to {e.recipient} failed: {e.reason}")


_ONE: dict[type, Callable[[Any], tuple[dict, str]]] = {
    ProposalSubmitted: _submitted, ProposalWithdrawn: _withdrawn, ProposalScreened: _screened,
    EvaluatorAssigned: _assigned, EvaluatorReleased: _released,
    EvaluationReportSubmitted: _report, EvaluationCompleted: _completed,
    GrantPreparationStarted: _preparation, GrantSignatureRequested: _signature,
    GrantSigned: _signed, GrantDeclined: _declined, ReservePromoted: _promoted,
    TimeTargetBreached: _breached, NotificationDelivered: _delivered,
    NotificationFailed: _failed, NotificationDeferred: _deferred,
}


# ------------------------------------------------------------------ many proposals each
def _closed(e: DeadlineClosed) -> dict[str, tuple[dict, str]]:
    return {entry["proposal_id"]: (
        {"topic_id": e.topic_id, "version": entry["version"]},
        f"deadline closed: version {entry['version']} frozen")
        for entry in e.manifest}


def _ranked(e: RankingPublished) -> dict[str, tuple[dict, str]]:
    found = {}
    for list_name, entries in (("main", e.main), ("reserve", e.reserve),
                               ("rejected", e.rejected)):
        for entry in entries:
            amount = entry.get("grant_amount") or entry.get("requested_grant")
            data = {"topic_id": e.topic_id, "list": list_name, "rank": entry.get("rank"),
                    "total": _text(entry.get("total")), "amount": _text(amount),
                    "acronym": entry.get("acronym")}
            if list_name == "rejected":
                line = f"rejected in the ranking of {e.topic_id} ({entry.get('total')} points)"
            else:
                line = (f"ranked {entry.get('rank')} on the {list_name} list of {e.topic_id} "
                        f"({entry.get('total')} points, grant {money(amount)})")
            found[entry["proposal_id"]] = (data, line)
    return found


def facts_of(event: Event) -> list[tuple[str, Fact]]:
    """``(proposal_id, fact)`` for every proposal ``event`` concerns (none for call-wide
    events such as ``call_published``)."""
    if isinstance(event, DeadlineClosed):
        per_proposal = _closed(event)
    elif isinstance(event, RankingPublished):
        per_proposal = _ranked(event)
    else:
        extract = _ONE.get(type(event))
        proposal_id = getattr(event, "proposal_id", None)
        if extract is None or not proposal_id:
            return []
        per_proposal = {proposal_id: extract(event)}
    return [(pid, Fact(event.event_id, event.event_type(), event.occurred_at,
                       event.causation_id, data, summary))
            for pid, (data, summary) in per_proposal.items()]
