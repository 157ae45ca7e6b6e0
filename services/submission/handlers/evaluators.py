"""Which experts may read a proposal's parts: submission learns it from evaluation's
``evaluator_assigned`` and ``evaluator_released`` (no service reads another's database).
Run by ``uow.consume``: idempotent, and indifferent to order (a release wins for good)."""
from __future__ import annotations

import sqlalchemy as sa

from services.submission.adapters.repository import ProposalRepository
from services.submission.adapters.tables import evaluator_access
from services.submission.domain.proposal import State
from shared.db.inserts import insert_ignoring_duplicates
from shared.events import EvaluatorAssigned, EvaluatorReleased
from shared.web import NotFound


def on_evaluator_assigned(uow, event: EvaluatorAssigned) -> None:
    insert_ignoring_duplicates(uow.session, evaluator_access, proposal_id=event.proposal_id,
                               email=event.expert_email.strip().lower(),
                               expert_id=event.expert_id, released=False,
                               updated_at=event.occurred_at)


def on_evaluator_released(uow, event: EvaluatorReleased) -> None:
    email = event.expert_email.strip().lower()
    if not insert_ignoring_duplicates(uow.session, evaluator_access,
                                      proposal_id=event.proposal_id, email=email,
                                      expert_id=event.expert_id, released=True,
                                      updated_at=event.occurred_at):
        uow.session.execute(evaluator_access.update().where(
            evaluator_access.c.proposal_id == event.proposal_id,
            evaluator_access.c.email == email).values(released=True,
                                                      updated_at=event.occurred_at))


def assigned_part(uow, email: str, proposal_id: str, name: str) -> tuple[bytes, str]:
    """A part of the frozen version, for an expert assigned to the proposal and not
    released (a declared conflict releases); 404 for anyone else, as for no proposal."""
    with uow:
        allowed = uow.session.execute(sa.select(evaluator_access.c.released).where(
            evaluator_access.c.proposal_id == proposal_id,
            evaluator_access.c.email == email.strip().lower())).scalar()
        repo = ProposalRepository(uow.session)
        found = repo.get(proposal_id) if allowed is False else None
        proposal = found[0] if found else None
        if proposal is None or proposal.state is not State.FROZEN:
            raise NotFound(f"no proposal {proposal_id} assigned to you",
                           code="proposal_not_found")
        part = proposal.frozen_version.content.part(name)
        if part is None:
            raise NotFound(f"proposal {proposal_id} has no part {name!r}", code="part_not_found")
        return repo.part_bytes(part.sha256), part.filename or f"{name}.bin"
