"""Commands and queries on proposals: one transaction per command, events in the outbox
of that transaction, every refusal before anything is written."""
from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime

from services.submission.adapters.call_store import CallStore
from services.submission.adapters.repository import ProposalRepository
from services.submission.adapters.serialization import content_to_json
from services.submission.domain.deadline import utc_iso
from services.submission.domain.part_types import mismatch
from services.submission.domain.proposal import (Part, Participant, Proposal,
                                                 ProposalContent, State)
from services.submission.handlers.common import (PayloadTooLarge, invalid, iso, new_id,
                                                 proposal_view, refusals, require_visible)
from shared.calls.model import Call
from shared.web import Conflict, NotFound

DEFAULT_PART_LIMIT = 10 * 1024 * 1024  # bytes per part


@dataclass(frozen=True)
class Upload:
    """A part's bytes as received, before it becomes a domain ``Part``."""

    name: str
    filename: str
    data: bytes
    field: str  # where it came from, for error messages
    media_type: str | None = None
    content_field: str = "_body"  # where its bytes came from

    def check_type(self) -> None:
        """A part declared a PDF (by name or media type) must be a PDF, and so on."""
        problem = mismatch(self.data, self.filename, self.media_type)
        if problem:
            raise invalid(self.content_field, problem)

    def part(self) -> Part:
        return Part(self.name, hashlib.sha256(self.data).hexdigest(), len(self.data),
                    self.filename)


# ----------------------------------------------------------------------- input checks
def _limit_rule(limit: int) -> str:
    return f"a part may be at most {limit} bytes ({limit / 1024 / 1024:g} MB)"


def too_large(field: str, limit: int) -> PayloadTooLarge:
    rule = _limit_rule(limit)
    return PayloadTooLarge(f"{field}: {rule}", errors=[{"field": field, "rule": rule}])


def decode_uploads(uploads: list[dict], limit: int, prefix: str = "parts") -> list[Upload]:
    """Base64 parts of a JSON body, refused before decoding when plainly too large."""
    decoded, seen = [], set()
    for index, upload in enumerate(uploads):
        where = f"{prefix}[{index}]"
        if upload["name"] in seen:
            raise invalid(f"{where}.name", f"part {upload['name']!r} is given twice")
        seen.add(upload["name"])
        text = upload["content_base64"]
        if len(text) > (limit // 3 + 1) * 4 + 64:  # + a little for line breaks
            raise too_large(f"{where}.content_base64", limit)
        try:
            data = base64.b64decode(text.encode("ascii", "strict"), validate=False)
            if base64.b64encode(data) != "".join(text.split()).encode("ascii"):
                raise ValueError
        except (ValueError, binascii.Error, UnicodeEncodeError):
            raise invalid(f"{where}.content_base64", "is not valid base64") from None
        if len(data) > limit:
            raise too_large(f"{where}.content_base64", limit)
        if not data:
            raise invalid(f"{where}.content_base64", "a part must not be empty")
        decoded.append(Upload(upload["name"], upload["filename"], data,
                              f"{where}.name", content_field=f"{where}.content_base64"))
        decoded[-1].check_type()
    return decoded


def _check_parts(call: Call, uploads: list[Upload]) -> None:
    for upload in uploads:
        if upload.name not in call.required_parts:
            raise invalid(upload.field, f"must be one of: {', '.join(call.required_parts)} "
                                        "(the parts this call asks for)")


def _check_areas(call: Call, areas: list[str] | None) -> None:
    known = {area.id for area in call.integration_areas}
    for index, area in enumerate(areas or ()):
        if known and area not in known:
            raise invalid(f"integration_areas[{index}]",
                          f"unknown integration area; known: {', '.join(sorted(known))}")


def _participant(data: dict) -> Participant:
    return Participant(**{**data, "contact_email": data["contact_email"].strip()})


def _form_changes(data: dict) -> dict:
    """Domain field values from a loaded create/patch body (absent keys: unchanged)."""
    changes = {k: v for k, v in data.items()
               if k not in ("call_id", "topic_id", "parts", "coordinator", "co_applicants",
                            "integration_areas")}
    if "coordinator" in data:
        changes["coordinator"] = _participant(data["coordinator"])
    if "co_applicants" in data:
        changes["co_applicants"] = tuple(_participant(p) for p in data["co_applicants"])
    if "integration_areas" in data:
        changes["integration_areas"] = tuple(data["integration_areas"])
    return changes


def _keeps_access(principal, proposal: Proposal) -> None:
    if not principal.is_operations and not proposal.is_contact(principal.email):
        raise invalid("contact_email", f"your address {principal.email} must stay the contact "
                                       "of the coordinator or of a co-applicant: only "
                                       "contacts can see and change a proposal")


def _published_call(store: CallStore, call_id: str, version: int | None) -> Call:
    published = store.get(call_id, version) if version is not None else None
    if published is None:  # a proposal always refers to a published call
        raise NotFound(f"call {call_id} is not published", code="call_not_found")
    return published.call


def _load(uow, principal, proposal_id: str, lock: bool = True):
    repo = ProposalRepository(uow.session)
    found = repo.get(proposal_id, lock=lock)
    proposal, context = found if found else (None, None)
    require_visible(proposal, principal, proposal_id)
    call = _published_call(CallStore(uow.session), proposal.call_id, context.call_version)
    return repo, proposal, context, call


def _view(repo: ProposalRepository, proposal: Proposal, call: Call, created_by: str) -> dict:
    return proposal_view(proposal, versions=repo.versions(proposal.id), deadline=call.deadline,
                         created_by=created_by)


# ----------------------------------------------------------------------- commands
def create(uow, principal, data: dict, now: datetime,
           part_limit: int = DEFAULT_PART_LIMIT, id_seed: bytes | None = None) -> dict:
    """A new draft (and its parts); the creator must be one of its contacts. ``id_seed``
    (:func:`.common.request_seed`) makes its id the same on a replay of the request."""
    uploads = decode_uploads(data["parts"], part_limit)
    with uow:
        store = CallStore(uow.session)
        published = store.current(data["call_id"])
        if published is None:
            raise invalid("call_id", f"no call {data['call_id']} is published")
        call = published.call
        if data["topic_id"] not in {topic.id for topic in call.topics}:
            raise invalid("topic_id", f"not a topic of call {call.id}: "
                                      f"{', '.join(t.id for t in call.topics)}")
        _check_areas(call, data["integration_areas"])
        _check_parts(call, uploads)
        with refusals():
            content = ProposalContent(**_form_changes(data),
                                      parts=tuple(u.part() for u in uploads))
            proposal = Proposal.create_draft(
                proposal_id=_free_id(uow, id_seed), call_id=call.id,
                topic_id=data["topic_id"], content=content, now=now, deadline=call.deadline)
        _keeps_access(principal, proposal)
        repo = ProposalRepository(uow.session)
        repo.store_parts({upload.part().sha256: upload.data for upload in uploads}, now)
        repo.add(proposal, created_by=principal.email, now=now)
        uow.commit()
    return proposal_view(proposal, versions=[], deadline=call.deadline,
                         created_by=principal.email.lower())


def _free_id(uow, seed: bytes | None) -> str:
    """The derived id, unless a proposal holds it already: the same person reusing a key
    whose idempotency record has expired (after ``IDEMPOTENCY.ttl_hours``) asks for a new
    draft, which then gets a random id instead of the primary key's refusal."""
    derived = new_id("P", seed)
    if seed is not None and ProposalRepository(uow.session).exists(derived):
        return new_id("P")
    return derived


def update(uow, principal, proposal_id: str, data: dict, now: datetime,
           part_limit: int = DEFAULT_PART_LIMIT) -> dict:
    """Change form fields and/or add parts of the working copy (before the deadline)."""
    uploads = decode_uploads(data.get("parts") or [], part_limit)
    with uow:
        repo, proposal, context, call = _load(uow, principal, proposal_id)
        _check_areas(call, data.get("integration_areas"))
        _check_parts(call, uploads)
        with refusals():
            proposal.edit(now=now, deadline=call.deadline, **_form_changes(data))
            for upload in uploads:
                proposal.attach_part(upload.part(), now=now, deadline=call.deadline)
        _keeps_access(principal, proposal)
        repo.store_parts({upload.part().sha256: upload.data for upload in uploads}, now)
        repo.save(proposal, now=now)
        uow.commit()
        return _view(repo, proposal, call, context.created_by)


def put_part(uow, principal, proposal_id: str, name: str, data: bytes, filename: str,
             now: datetime, media_type: str | None = None) -> dict:
    """Add or replace one part from a raw request body."""
    upload = Upload(name, filename, data, "name", media_type)
    upload.check_type()
    with uow:
        repo, proposal, context, call = _load(uow, principal, proposal_id)
        _check_parts(call, [upload])
        with refusals():
            proposal.attach_part(upload.part(), now=now, deadline=call.deadline)
        repo.store_parts({upload.part().sha256: data}, now)
        repo.save(proposal, now=now)
        uow.commit()
        return _view(repo, proposal, call, context.created_by)


def remove_part(uow, principal, proposal_id: str, name: str, now: datetime) -> dict:
    with uow:
        repo, proposal, context, call = _load(uow, principal, proposal_id)
        if proposal.content.part(name) is None:
            raise NotFound(f"proposal {proposal_id} has no part {name!r}", code="part_not_found")
        with refusals():
            proposal.remove_part(name, now=now, deadline=call.deadline)
        repo.save(proposal, now=now)
        uow.commit()
        return _view(repo, proposal, call, context.created_by)


def submit(uow, principal, proposal_id: str, clock) -> dict:
    """Submit a draft or resubmit a submitted proposal: a new version if received
    strictly before the deadline, with a receipt; 409 and no change otherwise.

    Takes ``clock`` rather than ``now``: the receipt time is read only once the row is
    locked (see ``adapters/locks.py``), so a submission accepted before the deadline is
    always in the manifest."""
    with uow:
        repo, proposal, context, call = _load(uow, principal, proposal_id)  # locks the row
        received_at = clock.now()
        if context.topic_closed:
            raise Conflict(f"topic {proposal.topic_id} closed at the deadline "
                           f"{utc_iso(call.deadline)}; the submission is refused",
                           code="deadline_passed")
        with refusals():
            receive = proposal.submit if proposal.state is State.DRAFT else proposal.resubmit
            receipt = receive(received_at=received_at, deadline=call.deadline)
        repo.save(proposal, now=received_at)
        uow.add_events(*proposal.pull_events())
        uow.commit()
    return {"proposal_id": receipt.proposal_id, "version": receipt.version,
            "content_hash": receipt.content_hash, "received_at": receipt.received_at_utc}


def withdraw(uow, principal, proposal_id: str, reason: str, now: datetime) -> dict:
    """Withdraw for good, until the topic's ranking is published."""
    with uow:
        repo, proposal, context, call = _load(uow, principal, proposal_id)
        with refusals():
            proposal.withdraw(now=now, reason=reason,
                              ranking_published=context.ranking_published)
        repo.save(proposal, now=now, withdraw_reason=reason)
        uow.add_events(*proposal.pull_events())
        uow.commit()
        return _view(repo, proposal, call, context.created_by)


# ----------------------------------------------------------------------- queries
def get(uow, principal, proposal_id: str) -> dict:
    with uow:
        repo, proposal, context, call = _load(uow, principal, proposal_id, lock=False)
        return _view(repo, proposal, call, context.created_by)


def version(uow, principal, proposal_id: str, number: int) -> dict:
    """One submitted version's content as received."""
    with uow:
        repo, proposal, _, _ = _load(uow, principal, proposal_id, lock=False)
        found = repo.version(proposal_id, number)
        if found is None:
            raise NotFound(f"proposal {proposal_id} has no version {number}",
                           code="version_not_found")
        return {"proposal_id": proposal_id, "version": found.number,
                "content_hash": found.content_hash, "received_at": iso(found.received_at),
                **content_to_json(found.content)}


def part_content(uow, principal, proposal_id: str, name: str,
                 number: int | None = None) -> tuple[bytes, str]:
    """The bytes and file name of a part of the working copy (or of version ``number``)."""
    with uow:
        repo, proposal, _, _ = _load(uow, principal, proposal_id, lock=False)
        content = proposal.content
        if number is not None:
            found = repo.version(proposal_id, number)
            if found is None:
                raise NotFound(f"proposal {proposal_id} has no version {number}",
                               code="version_not_found")
            content = found.content
        part = content.part(name)
        if part is None:
            raise NotFound(f"proposal {proposal_id} has no part {name!r}", code="part_not_found")
        return repo.part_bytes(part.sha256), part.filename or f"{name}.bin"


def listing(uow, principal, *, call_id: str | None = None, topic_id: str | None = None,
            state: str | None = None, limit: int = 100, offset: int = 0,
            after: str | None = None) -> list[dict]:
    """Proposals the caller is a contact of (operations: all), oldest first; ``after``
    a proposal, the page starts after it."""
    with uow:
        rows = ProposalRepository(uow.session).summaries(
            contact=None if principal.is_operations else principal.email, call_id=call_id,
            topic_id=topic_id, state=state, limit=limit, offset=offset, after=after)
        return [{"id": r.id, "call_id": r.call_id, "topic_id": r.topic_id, "state": r.state,
                 "acronym": r.content["acronym"], "title": r.content["title"],
                 "latest_version": r.latest_version, "frozen_version": r.frozen_version,
                 "updated_at": iso(r.updated_at)} for r in rows]
