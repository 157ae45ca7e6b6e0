"""Running the assignment: each topic's first one, repairs, extra evaluators, overrides.

A run has three steps, so that no transaction stays open during a solve and a crash of the
solver never costs the service anything:

1. plan, in one short transaction: the proposals whose slots are open, the pool, the
   conflicts (:func:`.domain.conflicts.conflict_pairs`, the one source of truth), the
   pairs once released (never made again), the loads carried elsewhere, the affinity
   scores operations imported, and the pool revision R;
2. solve outside any transaction, in the solver's child process;
3. write, in a second transaction that locks the pool revision: if it is still R the new
   assignments and their ``evaluator_assigned`` events are written, otherwise the world
   changed meanwhile and the run starts again from 1 (at most :data:`MAX_ATTEMPTS` times).

When a problem is infeasible the diagnosis names the topics (first assignment) or the
proposals (repair) that cannot be served; those are set aside with the messages and the
others are solved again, so one hopeless topic does not hold up the rest. Failures are
recorded with the revision they were tried at: the sweeper tries them again only after
something changed (experts imported, loads raised, assignments released).
"""
from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from services.evaluation.adapters import affinity_store
from services.evaluation.adapters import repository as repo
from services.evaluation.adapters.tables import assignment_runs
from services.evaluation.domain.affinity import ImportedScores
from services.evaluation.domain.assignment import AssignmentResult, Pair, ProposalToAssign, diagnose
from services.evaluation.domain.conflicts import check_conflict, conflict_pairs
from services.evaluation.domain.consensus import NEEDS_SPREAD_RESOLUTION
from services.evaluation.domain.experts import Expert
from services.evaluation.domain.planning import (
    blamed_subjects, build_problem, extra_slots_open, may_assign, proposal_to_assign,
    topic_progress)
from services.evaluation.handlers.common import (
    assigned_event, release, require_call, require_open, require_proposal)
from services.evaluation.handlers.progress import assessment, settle_proposal
from shared.calls.model import Call
from shared.web import Conflict, Unprocessable

_log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
INITIAL, REPAIR = "initial", "repair"


@dataclass
class RunOutcome:
    """What a run did. ``failed`` maps a topic (first assignment) or proposal (repair)
    that got nothing to the diagnosis lines that say why."""

    kind: str
    status: str  # optimal | feasible | infeasible | error | nothing_to_do | stale | deferred
    assigned: list[Pair] = field(default_factory=list)
    failed: dict[str, list[str]] = field(default_factory=dict)
    objective: int | None = None
    gap: float | None = None

    @property
    def did_work(self) -> bool:
        """False for a run that found nothing to do (its subject was repaired, completed or
        withdrawn meanwhile): a replay's settle counts clock work until a tick finds none."""
        return self.status != "nothing_to_do"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "status": self.status,
                "assigned": [{"expert_id": e, "proposal_id": p} for e, p in self.assigned],
                "failed": [{"subject": s, "diagnosis": lines} for s, lines in self.failed.items()],
                "objective": self.objective, "gap": self.gap}


@dataclass
class _Plan:
    call: Call
    kind: str
    revision: int
    items: list[ProposalToAssign]
    targets: dict[str, int]
    experts: list[Expert]
    conflicts: frozenset
    released: set
    kept: set
    load_elsewhere: dict
    extras_active: dict[str, int]
    rows: dict  # proposal rows by id
    topics: tuple[str, ...] = ()  # the topics a first assignment decides
    imported: ImportedScores | None = None  # affinity scores operations imported


# ------------------------------------------------------------------ entry points
def run(uow, solver, clock, call_id: str, kind: str, subjects: list[str] | None,
        triggered_by: str) -> RunOutcome:
    """Run an assignment now (waits for a solve already running in this process).

    ``kind`` initial: ``subjects`` are topic ids (None: every topic that may be assigned);
    repair: proposal ids (None: every proposal short of evaluators)."""
    with solver.lock:
        return _run(uow, solver, clock, call_id, kind, subjects, triggered_by)


def sweep(uow, solver, clock) -> list[RunOutcome]:
    """The timer's pass: first assignments of topics that became ready, repairs of
    proposals short of evaluators. Skips the pass if a solve is running, and says so
    (``deferred``, which counts as work): a replay's clock tick that met the timer's pass
    half-way reported no work, the driver took the pipeline for settled, and the topic's
    assignment committed after the replay had moved on (seen in the pages journey test)."""
    if not solver.lock.acquire(blocking=False):
        return [RunOutcome(INITIAL, "deferred")]
    try:
        with uow:
            work = _due_work(uow)
        return [_run(uow, solver, clock, call_id, kind, subjects, "sweeper")
                for call_id, kind, subjects in work]
    finally:
        solver.lock.release()


def _due_work(uow) -> list[tuple[str, str, list[str]]]:
    current = repo.revision(uow)
    work = []
    for call_id in repo.call_ids(uow):
        call = repo.load_call(uow, call_id)
        if repo.stage_reached(uow, call_id, "evaluation_start"):
            ready = [t.topic_id for t in repo.topic_rows(uow, call_id, with_ranking=False)
                     if t.assignment_status != "assigned" and t.ranked_at is None
                     and t.closed_at is not None and t.assignment_attempt_revision != current
                     and _may_assign(uow, call_id, t)]
            if ready:
                work.append((call_id, INITIAL, ready))
        short = repo.short_proposals(uow, call_id, current, call.evaluation.evaluators_per_proposal)
        if short:
            work.append((call_id, REPAIR, short))
    return work


def _may_assign(uow, call_id: str, topic) -> bool:
    rows = repo.topic_proposals(uow, call_id, topic.topic_id)
    return may_assign(topic_progress(True, map(repo.proposal_state, rows)), True)


def _run(uow, solver, clock, call_id, kind, subjects, triggered_by) -> RunOutcome:
    for _ in range(MAX_ATTEMPTS):
        with uow:
            plan = _plan(uow, call_id, kind, subjects)
        if plan is None:
            return RunOutcome(kind, "nothing_to_do")
        results, accepted, failed = _solve(plan, solver)
        with uow:
            outcome = _write(uow, plan, results, accepted, failed, clock.now(), triggered_by)
            if outcome is None:
                continue  # the pool changed while solving: plan again
            uow.commit()
            return outcome
    _log.warning("assignment %s of %s gave up: the pool kept changing", kind, call_id)
    return RunOutcome(kind, "stale")


def refill(uow, solver, clock, proposal_ids: list[str], triggered_by: str) -> list[RunOutcome]:
    """Repair the slots a command freed, after its commit. A repair that cannot be done
    now is recorded and retried by the sweeper once the pool changes.

    Only when no solve is running in this process: otherwise the freed slots are left to
    the sweeper (every second, and on every clock tick of a replay), which repairs every
    proposal short of evaluators in one solve. Waiting for the lock instead made each of a
    burst of declines wait for every solve before it, and each of those solves was
    planned again when the next release changed the pool: 25 s per decline in a
    300-proposal replay's report round."""
    if not solver.lock.acquire(blocking=False):
        return [RunOutcome(REPAIR, "deferred")]
    try:
        by_call: dict[str, list[str]] = {}
        with uow:
            for pid in dict.fromkeys(proposal_ids):
                by_call.setdefault(repo.proposal_row(uow, pid).call_id, []).append(pid)
        return [_run(uow, solver, clock, call_id, REPAIR, pids, triggered_by)
                for call_id, pids in by_call.items()]
    finally:
        solver.lock.release()


# ------------------------------------------------------------------ 1. plan
def _plan(uow, call_id: str, kind: str, subjects: list[str] | None) -> _Plan | None:
    revision = repo.revision(uow)  # first: whatever changes after it makes the plan stale
    call = require_call(uow, call_id)
    k = call.evaluation.evaluators_per_proposal
    if kind == INITIAL:
        topic_ids = subjects if subjects is not None else [
            t.topic_id for t in repo.topic_rows(uow, call_id) if t.assignment_status != "assigned"]
        rows = [r for t in topic_ids for r in _topic_rows_to_assign(uow, call_id, t)]
    else:
        topic_ids = []
        ids = subjects if subjects is not None else repo.short_proposals(uow, call_id, -1, k)
        rows = [r for r in map(lambda p: repo.proposal_row(uow, p), ids)
                if r is not None and r.call_id == call_id and _repairable(uow, r)]
    if not rows and kind == REPAIR:
        return None
    pids = [r.proposal_id for r in rows]
    active = repo.active_assignments(uow, proposal_ids=pids)
    targets = {r.proposal_id: r.target_evaluators or k for r in rows}
    counts = Counter(a.proposal_id for a in active)
    extras = Counter(a.proposal_id for a in active if a.reason == "extra")
    if kind == REPAIR:
        rows = [r for r in rows if counts[r.proposal_id] < targets[r.proposal_id]]
        if not rows:
            return None
        pids = [r.proposal_id for r in rows]
    experts = repo.all_experts(uow)
    consortia = [repo.consortium(r) for r in rows]
    loads = repo.active_loads(uow)
    kept = {(a.expert_id, a.proposal_id) for a in active if a.proposal_id in set(pids)}
    here = Counter(e for e, _ in kept)
    return _Plan(
        call=call, kind=kind, revision=revision,
        items=[proposal_to_assign(r.proposal_id, r.topic_id, r.snapshot) for r in rows],
        targets={p: targets[p] for p in pids}, experts=experts,
        conflicts=conflict_pairs(experts, consortia, call.evaluation,
                                 repo.declarations_for(uow, proposal_ids=pids)),
        released=repo.released_pairs(uow, pids), kept=kept,
        load_elsewhere={e: n - here.get(e, 0) for e, n in loads.items()},
        extras_active={p: extras[p] for p in pids},
        rows={r.proposal_id: r for r in rows},
        topics=tuple(topic_ids),
        imported=ImportedScores.of(affinity_store.scores_for(uow, pids)))


def _topic_rows_to_assign(uow, call_id: str, topic_id: str) -> list:
    return [r for r in repo.topic_proposals(uow, call_id, topic_id)
            if repo.proposal_state(r).takes_part and r.completed_at is None]


def _repairable(uow, row) -> bool:
    topic = repo.topic_row(uow, row.call_id, row.topic_id)
    return (repo.proposal_state(row).takes_part and row.completed_at is None
            and topic is not None and topic.assignment_status == "assigned"
            and topic.ranked_at is None)


# ------------------------------------------------------------------ 2. solve
def _solve(plan: _Plan, solver) -> tuple[list[AssignmentResult], list[Pair], dict]:
    """Solve each group of proposals with the same target; set aside what the diagnosis
    blames and solve the rest again."""
    topic_of = {i.id: i.topic for i in plan.items}
    by_topic = plan.kind == INITIAL
    results: list[AssignmentResult] = []
    accepted: list[Pair] = []
    failed: dict[str, list[str]] = {}
    for target in sorted(set(plan.targets.values())):
        remaining = [i for i in plan.items if plan.targets[i.id] == target]
        while remaining:
            problem = build_problem(remaining, plan.experts, evaluators=target,
                                    conflicts=plan.conflicts, released=plan.released,
                                    kept=plan.kept, load_elsewhere=plan.load_elsewhere,
                                    imported=plan.imported)
            result = solver.solve(problem)
            results.append(result)
            if result.ok:
                accepted += result.new_pairs
                break
            subjects = {topic_of[i.id] if by_topic else i.id for i in remaining}
            blamed = {} if result.status == "error" else blamed_subjects(
                diagnose(problem), {i.id: i.topic for i in remaining}, by_topic)
            if not blamed:  # nothing singled out: every subject shares the failure
                lines = list(result.diagnosis) or [result.error or "no assignment found"]
                failed.update({s: lines for s in subjects})
                break
            failed.update(blamed)
            remaining = [i for i in remaining if (topic_of[i.id] if by_topic else i.id)
                         not in blamed]
    return results, accepted, failed


# ------------------------------------------------------------------ 3. write
def _write(uow, plan: _Plan, results, accepted, failed, now: datetime,
           triggered_by: str) -> RunOutcome | None:
    current = repo.revision(uow, lock=True)
    if current != plan.revision:
        return None
    call, k = plan.call, plan.call.evaluation.evaluators_per_proposal
    experts = {e.id: e for e in plan.experts}
    extras_open = {p: extra_slots_open(t, k, plan.extras_active.get(p, 0))
                   for p, t in plan.targets.items()}
    replacing = {p for _, p in plan.released}  # someone left: a newcomer replaces them
    rows = []
    for expert_id, proposal_id in sorted(accepted, key=lambda pair: (pair[1], pair[0])):
        row = plan.rows[proposal_id]
        reason = "repair" if proposal_id in replacing else INITIAL
        if extras_open[proposal_id] > 0:
            reason, extras_open[proposal_id] = "extra", extras_open[proposal_id] - 1
        event = assigned_event(call, row, experts[expert_id], reason, now)
        rows.append(repo.assignment_values(proposal_id=proposal_id, expert_id=expert_id,
                                           topic_id=row.topic_id, reason=reason, now=now,
                                           due_at=event.due_at))
        uow.add_events(event)
    repo.add_assignments(uow, rows)
    revision = repo.bump_revision(uow) if accepted else current
    status = _status(results, failed)
    _record_subjects(uow, plan, failed, revision, now,
                     "error" if status == "error" else "infeasible")
    last = results[-1] if results else AssignmentResult("optimal")
    outcome = RunOutcome(plan.kind, status, sorted(accepted), failed,
                         last.objective if last.ok else None, last.gap if last.ok else None)
    uow.session.execute(assignment_runs.insert().values(
        id=str(uuid.uuid4()), call_id=call.id, kind=plan.kind,
        subjects=list(plan.topics) or sorted(plan.targets),
        status=status, assigned=len(accepted),
        diagnosis=[f"{s}: {line}" for s, lines in failed.items() for line in lines],
        objective=outcome.objective, gap=outcome.gap, stats=dict(last.stats),
        started_at=now, triggered_by=triggered_by))
    return outcome


def _record_subjects(uow, plan: _Plan, failed: dict, revision: int, now: datetime,
                     failure: str) -> None:
    if plan.kind == INITIAL:
        for topic_id in plan.topics:
            if topic_id in failed:
                repo.update_topic(uow, plan.call.id, topic_id, assignment_status=failure,
                                  assignment_message=failed[topic_id],
                                  assignment_attempt_revision=revision)
            else:
                repo.update_topic(uow, plan.call.id, topic_id, assignment_status="assigned",
                                  assignment_message=None, assigned_at=now)
        repo.update_proposals(uow, {pid: {"target_evaluators": target}
                                    for pid, target in plan.targets.items()
                                    if plan.rows[pid].target_evaluators is None})
        return
    repo.update_proposals(uow, {pid: {"repair_message": failed.get(pid),
                                      "repair_attempt_revision": revision if pid in failed
                                      else None} for pid in plan.targets})


def _status(results: list[AssignmentResult], failed: dict) -> str:
    if not results:
        return "optimal"
    if failed:
        return "error" if all(r.status == "error" for r in results) else "infeasible"
    return "feasible" if any(r.status == "feasible" for r in results) else "optimal"


# ------------------------------------------------------------------ operations' commands
def request_extra_evaluator(uow, solver, clock, proposal_id: str,
                            operator: str) -> tuple[int, dict]:
    """Spread resolution: one more evaluator for a proposal whose spread is flagged. If
    nobody can take the slot now, it stays open for the sweeper (409 says why)."""
    with uow:
        row = require_proposal(uow, proposal_id, lock=True)
        require_open(uow, row)
        call = require_call(uow, row.call_id)
        status = assessment(uow, call, row)
        if status is None or status.state != NEEDS_SPREAD_RESOLUTION:
            state = "not assigned yet" if status is None else status.state
            raise Conflict(f"{proposal_id} does not need a spread resolution ({state})",
                           [{"field": "proposal_id", "rule": f"spread not flagged: {state}"}])
        active = repo.active_assignments(uow, proposal_ids=[proposal_id])
        repo.update_proposal(uow, proposal_id, target_evaluators=len(active) + 1)
        repo.bump_revision(uow)
        uow.commit()
    return _command_response(run(uow, solver, clock, row.call_id, REPAIR, [proposal_id],
                                 operator), "proposal")


def override(uow, solver, clock, proposal_id: str, body: dict, operator: str) -> dict:
    """Operations release and/or assign named experts on one proposal, with a reason.

    The hard rules still hold: no conflict of interest, the expert active and within
    max load, no more evaluators than the proposal needs. Slots left open are refilled
    by a repair."""
    release_ids, assign_ids, reason = body["release"], body["assign"], body["reason"]
    with uow:
        row = require_proposal(uow, proposal_id, lock=True)
        require_open(uow, row)
        call = require_call(uow, row.call_id)
        topic = repo.topic_row(uow, row.call_id, row.topic_id)
        if topic.assignment_status != "assigned":
            raise Conflict(f"topic {row.topic_id} is not assigned yet: run the assignment first",
                           [{"field": "proposal_id", "rule": "topic not assigned"}])
        active = {a.expert_id for a in repo.active_assignments(uow, proposal_ids=[proposal_id])}
        errors = _override_errors(uow, call, row, active, release_ids, assign_ids)
        target = row.target_evaluators or call.evaluation.evaluators_per_proposal
        after = len(active) - len(set(release_ids)) + len(set(assign_ids))
        if after > target:
            errors.append({"field": "assign", "rule": f"would give {after} evaluators; "
                                                      f"{proposal_id} needs {target}"})
        if errors:
            raise Unprocessable("the override breaks the assignment rules", errors)
        now = clock.now()
        for expert_id in sorted(set(release_ids)):
            release(uow, row, repo.expert_by_id(uow, expert_id), "operations", now, note=reason)
        for expert_id in sorted(set(assign_ids)):
            event = assigned_event(call, row, repo.expert_by_id(uow, expert_id), "repair", now)
            repo.add_assignment(uow, proposal_id=proposal_id, expert_id=expert_id,
                                topic_id=row.topic_id, reason="repair", now=now,
                                due_at=event.due_at, note=reason)
            uow.add_events(event)
        repo.bump_revision(uow)
        settle_proposal(uow, call, proposal_id, now)
        uow.commit()
    refill = run(uow, solver, clock, row.call_id, REPAIR, [proposal_id], operator) \
        if after < target else None
    return {"proposal_id": proposal_id, "released": sorted(set(release_ids)),
            "assigned": sorted(set(assign_ids)), "refill": refill and refill.to_dict()}


def _override_errors(uow, call, row, active, release_ids, assign_ids) -> list[dict]:
    errors = []
    for i, expert_id in enumerate(release_ids):
        if expert_id not in active:
            errors.append({"field": f"release[{i}]",
                           "rule": f"expert {expert_id} is not assigned to {row.proposal_id}"})
    declared = repo.declarations_for(uow, proposal_ids=[row.proposal_id])
    loads = repo.active_loads(uow)
    for i, expert_id in enumerate(assign_ids):
        field_name = f"assign[{i}]"
        expert = repo.expert_by_id(uow, expert_id)
        if expert is None:
            errors.append({"field": field_name, "rule": f"unknown expert {expert_id}"})
            continue
        check = check_conflict(expert, repo.consortium(row), call.evaluation, declared)
        problems = [
            (expert_id in active and expert_id not in release_ids, "is already assigned"),
            (not expert.active, "is not active"),
            (check.conflicted, "has a conflict of interest: "
                               + "; ".join(str(r) for r in check.reasons)),
            (loads.get(expert_id, 0) >= expert.max_load,
             f"carries {loads.get(expert_id, 0)} assignments, max load {expert.max_load}"),
        ]
        errors += [{"field": field_name, "rule": f"expert {expert_id} {text}"}
                   for broken, text in problems if broken]
    return errors


def require_assignable_topic(uow, call_id: str, topic_ids: list[str] | None) -> list[str]:
    """Topics an operator's run may assign now; 409 naming the first that may not."""
    rows = repo.topic_rows(uow, call_id)
    known = {t.topic_id: t for t in rows}
    wanted = topic_ids if topic_ids is not None else [
        t.topic_id for t in rows if t.assignment_status != "assigned" and t.ranked_at is None
        and t.closed_at is not None]
    for i, topic_id in enumerate(wanted):
        topic = known.get(topic_id)
        field_name = f"topics[{i}]"
        if topic is None or topic.closed_at is None:
            raise Conflict(f"topic {topic_id} is not closed yet",
                           [{"field": field_name, "rule": "topic not closed"}])
        if topic.assignment_status == "assigned":
            raise Conflict(f"topic {topic_id} is already assigned; use repair",
                           [{"field": field_name, "rule": "already assigned"}])
        if not _may_assign(uow, call_id, topic):
            raise Conflict(f"topic {topic_id} still has proposals awaiting screening",
                           [{"field": field_name, "rule": "screening not finished"}])
    if not wanted:
        raise Conflict(f"no topic of {call_id} is waiting for its assignment",
                       [{"field": "topics", "rule": "nothing to assign"}])
    return wanted


def run_initial_command(uow, solver, clock, call_id: str, topic_ids: list[str] | None,
                        operator: str) -> tuple[int, dict]:
    with uow:
        require_call(uow, call_id)
        topics = require_assignable_topic(uow, call_id, topic_ids)
    return _command_response(run(uow, solver, clock, call_id, INITIAL, topics, operator),
                             "topic")


def run_repair_command(uow, solver, clock, call_id: str, operator: str) -> tuple[int, dict]:
    with uow:
        require_call(uow, call_id)
    return _command_response(run(uow, solver, clock, call_id, REPAIR, None, operator),
                             "proposal")


def _command_response(outcome: RunOutcome, subject: str) -> tuple[int, dict]:
    """200 with the run; 409 when something could not be assigned, with one error per
    diagnosis line (``field`` names the topic or proposal) and the run itself."""
    if not outcome.failed:
        return 200, outcome.to_dict()
    errors = [{"field": f"{subject}:{name}", "rule": line}
              for name, lines in outcome.failed.items() for line in lines]
    code = "assignment_failed" if outcome.status == "error" else "assignment_infeasible"
    return 409, {"error": code, "message": f"{len(outcome.failed)} {subject}(s) could not be "
                                           f"assigned: " + "; ".join(e["rule"] for e in errors),
                 "errors": errors, "run": outcome.to_dict()}

