"""Handlers of the evaluation service."""
from __future__ import annotations

import sqlalchemy as sa

from services.evaluation.adapters.tables import known_proposals


def note_submission(uow, event) -> None:
    """Walking skeleton: remember the proposal and count the versions seen."""
    row = uow.session.execute(sa.select(known_proposals).where(
        known_proposals.c.proposal_id == event.proposal_id)).one_or_none()
    if row is None:
        uow.session.execute(known_proposals.insert().values(
            proposal_id=event.proposal_id, topic_id=event.topic_id,
            latest_version=event.version, versions_seen=1, updated_at=event.occurred_at))
    else:
        uow.session.execute(known_proposals.update().where(
            known_proposals.c.proposal_id == event.proposal_id).values(
            latest_version=max(row.latest_version, event.version),
            versions_seen=row.versions_seen + 1, updated_at=event.occurred_at))


def known(uow) -> list[dict]:
    with uow:
        return [dict(r._mapping) for r in uow.session.execute(sa.select(known_proposals))]
