"""Commands from people: the coordinator's confirm / sign / decline and the granting
authority's countersignature. One transaction each; a refused step changes nothing.

Refusals are 409s naming the rule: an out-of-order step names the file's state, a late
step names the deadline it missed (the clock tick then ends the file).
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

from services.grants.domain.errors import DeadlinePassed, GrantError, IllegalTransition
from services.grants.domain.grant import (DECLINED, PREPARATION_DEADLINE_MISSED,
                                          SIGNATURE_DEADLINE_MISSED, GrantFile, State)
from services.grants.handlers.flow import end_file, repository
from services.grants.handlers.queries import grant_view, may_read, not_found
from services.grants.handlers.timing import Observation, observe
from shared.auth import Principal
from shared.web import Conflict, Forbidden

_DEADLINE_MISSED = {PREPARATION_DEADLINE_MISSED: "preparation",
                    SIGNATURE_DEADLINE_MISSED: "signature"}


@contextmanager
def refusals_as_conflicts():
    """Domain refusals become 409s whose ``errors`` name the field and the rule."""
    try:
        yield
    except IllegalTransition as exc:
        raise Conflict(str(exc), code="illegal_transition", errors=[
            {"field": "state", "rule": exc.rule, "state": exc.state}]) from exc
    except DeadlinePassed as exc:
        raise Conflict(str(exc), code="deadline_passed", errors=[
            {"field": f"{exc.deadline_name}_deadline",
             "rule": f"the coordinator must {exc.step} by the {exc.deadline_name} deadline",
             "deadline": exc.deadline.isoformat()}]) from exc
    except GrantError as exc:
        raise Conflict(str(exc), code="grant_rule",
                       errors=[{"field": "grant_id", "rule": str(exc)}]) from exc


def _coordinators_file(repo, principal: Principal, grant_id: str, action: str,
                       now: datetime) -> GrantFile:
    """The file, locked, if ``principal`` is its coordinator and it did not already end
    at a deadline (that refusal names the deadline, whether or not the tick came yet)."""
    grant = repo.grant(grant_id, lock=True)
    if grant is None or not may_read(grant, principal):
        raise not_found(grant_id)
    if principal.email != grant.coordinator_email:
        raise Forbidden(f"only the coordinator ({grant.coordinator_email}) may {action} "
                        f"(grant {grant_id})", errors=[
                            {"field": "principal", "rule": "only the coordinator acts on a file"}])
    missed = _DEADLINE_MISSED.get(grant.end_reason)
    if grant.state is State.DECLINED and missed:
        with refusals_as_conflicts():
            raise DeadlinePassed(grant_id, action, missed, getattr(grant, f"{missed}_deadline"),
                                 now)
    return grant


def confirm_data(uow, principal: Principal, grant_id: str, now: datetime) -> dict:
    return _coordinator_step(uow, principal, grant_id, now, "confirm the grant data",
                             lambda g: g.confirm_data(now))


def sign_by_coordinator(uow, principal: Principal, grant_id: str, now: datetime) -> dict:
    return _coordinator_step(uow, principal, grant_id, now, "sign as coordinator",
                             lambda g: g.sign_by_coordinator(now))


def _coordinator_step(uow, principal, grant_id, now, action, step) -> dict:
    with uow:
        repo = repository(uow, now)
        grant = _coordinators_file(repo, principal, grant_id, action, now)
        with refusals_as_conflicts():
            step(grant)
        repo.save_grant(grant)
        uow.add_events(*grant.pull_events())
        uow.commit()
    return grant_view(grant)


def decline(uow, principal: Principal, grant_id: str, note: str, now: datetime,
            authority_email: str) -> dict:
    """The coordinator declines the grant; its budget goes down the reserve chain. A file
    whose deadline already passed ends for that reason (the tick would have ended it)."""
    with uow:
        repo = repository(uow, now)
        grant = _coordinators_file(repo, principal, grant_id, "decline", now)
        with refusals_as_conflicts():
            end_file(uow, repo, grant, repo.call(grant.call_id), now, authority_email,
                     lambda g: g.decline(now, g.missed_deadline(now) or DECLINED))
        repo.set_decline_note(grant_id, note)
        uow.commit()
    return grant_view(grant, note)


def sign_by_authority(uow, grant_id: str, now: datetime) -> dict:
    """The granting authority countersigns: the grant is signed and pre-financing ordered;
    the proposal's time to grant stops."""
    with uow:
        repo = repository(uow, now)
        grant = repo.grant(grant_id, lock=True)
        if grant is None:
            raise not_found(grant_id)
        with refusals_as_conflicts():
            grant.sign_by_authority(now)
        repo.save_grant(grant)
        uow.add_events(*grant.pull_events())
        clock = repo.clock(grant.proposal_id, grant.call_id)
        clock.grant_signed(now)
        repo.save_clock(clock)
        uow.commit()
    observe(Observation("ttg", clock.call_id, clock.time_to_grant.days))
    return grant_view(grant)
