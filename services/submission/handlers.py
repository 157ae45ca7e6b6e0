"""Walking-skeleton handlers of the submission service (to be fleshed out by issue 3)."""
from __future__ import annotations

import hashlib
import json
import uuid

import sqlalchemy as sa

from services.submission.adapters.tables import proposal_versions, proposals
from shared.events import ProposalSubmitted
from shared.web import Conflict, Forbidden, NotFound


def create_draft(uow, owner_email: str, data: dict, now) -> dict:
    proposal_id = f"P-{uuid.uuid4().hex[:10].upper()}"
    with uow:
        uow.session.execute(proposals.insert().values(
            id=proposal_id, call_id=data["call_id"], topic_id=data["topic_id"], status="draft",
            data=data, owner_email=owner_email, created_at=now, updated_at=now))
        uow.commit()
    return {"id": proposal_id, "status": "draft"}


def submit(uow, principal, proposal_id: str, now) -> dict:
    with uow:
        row = uow.session.execute(sa.select(proposals).where(proposals.c.id == proposal_id)
                                  .with_for_update()).one_or_none()
        if row is None:
            raise NotFound(f"no proposal {proposal_id}")
        if not principal.is_operations and principal.email != row.owner_email:
            raise NotFound(f"no proposal {proposal_id}")
        if row.status == "withdrawn":
            raise Conflict("a withdrawn proposal cannot be submitted")
        version = (uow.session.execute(sa.select(sa.func.max(proposal_versions.c.version))
                                       .where(proposal_versions.c.proposal_id == proposal_id))
                   .scalar() or 0) + 1
        content_hash = hashlib.sha256(json.dumps(row.data, sort_keys=True).encode()).hexdigest()
        uow.session.execute(proposal_versions.insert().values(
            proposal_id=proposal_id, version=version, content_hash=content_hash,
            received_at=now, data=row.data))
        uow.session.execute(proposals.update().where(proposals.c.id == proposal_id)
                            .values(status="submitted", updated_at=now))
        uow.add_events(ProposalSubmitted(
            call_id=row.call_id, correlation_id=proposal_id, occurred_at=now,
            proposal_id=proposal_id, topic_id=row.topic_id, version=version,
            content_hash=content_hash, received_at=now, acronym=row.data["acronym"],
            title=row.data["title"], applicant_name=row.data["applicant_name"],
            contact_emails=row.data["contact_emails"]))
        uow.commit()
    return {"proposal_id": proposal_id, "version": version, "content_hash": content_hash,
            "received_at": now.isoformat()}


def get(uow, principal, proposal_id: str) -> dict:
    with uow:
        row = uow.session.execute(sa.select(proposals).where(proposals.c.id == proposal_id)
                                  ).one_or_none()
        if row is None or (not principal.is_operations and principal.email != row.owner_email):
            raise NotFound(f"no proposal {proposal_id}")
        return {"id": row.id, "status": row.status, **row.data}
