"""Imported affinity scores in evaluation's database (table ``imported_affinities``):
one score per (expert, proposal) pair, a later import replacing an earlier score."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import sqlalchemy as sa

from services.evaluation.adapters.tables import experts, imported_affinities, proposals
from shared.db.inserts import insert_for

_IN_CLAUSE = 5_000  # ids per IN (...) list: well inside every driver's parameter limit


def pool_ids(uow) -> set[str]:
    return set(uow.session.execute(sa.select(experts.c.id)).scalars())


def evaluated_proposal_ids(uow) -> set[str]:
    """Proposals taking part in an evaluation: in a manifest, screened eligible, not
    withdrawn (the ones an assignment may pair with an expert)."""
    query = sa.select(proposals.c.proposal_id).where(
        proposals.c.in_manifest, proposals.c.screened, proposals.c.eligible,
        proposals.c.withdrawn_at.is_(None))
    return set(uow.session.execute(query).scalars())


def save(uow, scores: Mapping[tuple[str, str], float], now: datetime,
         operator: str) -> int:
    """Store the scores (insert or replace); returns how many replaced a stored one."""
    pairs = sorted(scores)
    replaced = len(set(pairs) & set(scores_for(uow, {p for _, p in pairs})))
    insert = insert_for(uow.session, imported_affinities)
    upsert = insert.on_conflict_do_update(
        index_elements=["proposal_id", "expert_id"],
        set_={"score": insert.excluded.score, "imported_at": insert.excluded.imported_at,
              "imported_by": insert.excluded.imported_by})
    rows = [{"proposal_id": p, "expert_id": e, "score": scores[(e, p)], "imported_at": now,
             "imported_by": operator} for e, p in pairs]
    for start in range(0, len(rows), _IN_CLAUSE):
        uow.session.execute(upsert, rows[start:start + _IN_CLAUSE])
    return replaced


def scores_for(uow, proposal_ids: Iterable[str]) -> dict[tuple[str, str], float]:
    """``{(expert_id, proposal_id): score}`` of the given proposals."""
    ids = sorted(set(proposal_ids))
    found: dict[tuple[str, str], float] = {}
    for start in range(0, len(ids), _IN_CLAUSE):
        query = sa.select(imported_affinities.c.expert_id, imported_affinities.c.proposal_id,
                          imported_affinities.c.score) \
            .where(imported_affinities.c.proposal_id.in_(ids[start:start + _IN_CLAUSE]))
        found.update({(r.expert_id, r.proposal_id): r.score
                      for r in uow.session.execute(query)})
    return found
