"""What every handler of the submission service shares: domain refusals as HTTP errors,
access to proposals, and the JSON views of proposals."""
from __future__ import annotations

import hashlib
import hmac
import uuid
from contextlib import contextmanager
from datetime import datetime

from services.submission.adapters.call_store import CallStore
from services.submission.adapters.serialization import content_to_json, screening_to_json
from services.submission.domain.deadline import utc_iso
from services.submission.domain.errors import (CallVersionRefused, DeadlinePassed,
                                               InvalidEntry, InvalidProposal,
                                               InvalidTransition, LimitReached, NotOwner,
                                               WithdrawalClosed)
from services.submission.domain.proposal import Proposal
from shared.calls.model import Call
from shared.web import ApiError, Conflict, Forbidden, NotFound, Unprocessable


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


@contextmanager
def refusals():
    """Turn the domain's refusals into HTTP errors (the unit of work rolls back, so
    nothing is half-written)."""
    try:
        yield
    except WithdrawalClosed as exc:
        raise Conflict(str(exc), code="withdrawal_closed") from None
    except DeadlinePassed as exc:
        raise Conflict(str(exc), code="deadline_passed") from None
    except InvalidTransition as exc:
        raise Conflict(str(exc), code="invalid_state") from None
    except CallVersionRefused as exc:
        raise Conflict(str(exc), code="call_version_refused") from None
    except InvalidProposal as exc:
        raise Unprocessable(str(exc), errors=[{"field": "_body", "rule": str(exc)}]) from None
    except InvalidEntry as exc:
        raise Unprocessable(str(exc), errors=[{"field": field, "rule": rule}
                                              for field, rule in exc.problems]) from None
    except NotOwner as exc:
        raise Forbidden(str(exc), code="not_owner") from None
    except LimitReached as exc:
        raise Conflict(str(exc), code="limit_reached") from None


def invalid(field: str, rule: str) -> Unprocessable:
    return Unprocessable(f"{field}: {rule}", errors=[{"field": field, "rule": rule}])


def require_visible(proposal: Proposal | None, principal, proposal_id: str) -> Proposal:
    """The proposal if the caller may see it; an unknown proposal and somebody else's
    look the same (404), so ids cannot be probed."""
    if proposal is None or not (principal.is_operations or proposal.is_contact(principal.email)):
        raise NotFound(f"no proposal {proposal_id}", code="proposal_not_found")
    return proposal


def iso(moment: datetime | None) -> str | None:
    return utc_iso(moment) if moment is not None else None


def version_infos(rows: list[dict]) -> list[dict]:
    return [{**row, "received_at": iso(row["received_at"])} for row in rows]


def proposal_view(proposal: Proposal, *, versions: list[dict], deadline: datetime,
                  created_by: str) -> dict:
    """``ProposalSchema``: the working copy (the frozen version once frozen), the
    version history and the screening outcome."""
    return {"id": proposal.id, "call_id": proposal.call_id, "topic_id": proposal.topic_id,
            "state": proposal.state.value, **content_to_json(proposal.content),
            "contact_emails": proposal.contact_emails, "deadline": utc_iso(deadline),
            "versions": version_infos(versions),
            "has_unsubmitted_changes": proposal.has_unsubmitted_changes,
            "frozen_version": proposal.frozen_version.number
            if proposal.frozen_version else None,
            "withdrawn_at": iso(proposal.withdrawn_at),
            "screening": screening_to_json(proposal.screening)
            if proposal.screening is not None else None,
            "created_by": created_by}


def published_topic(session, call_id: str, topic_id: str) -> Call:
    """The newest version of a published call having ``topic_id``, or a 404 naming which
    of the two is unknown."""
    published = CallStore(session).current(call_id)
    if published is None:
        raise NotFound(f"no call {call_id} is published", code="call_not_found")
    if topic_id not in {topic.id for topic in published.call.topics}:
        raise NotFound(f"call {call_id} has no topic {topic_id}", code="topic_not_found")
    return published.call


def new_id(prefix: str, seed: bytes | None = None) -> str:
    """A fresh identifier such as ``PP-1A2B3C4D5E6F``: random (ids cannot be guessed), or
    derived from ``seed`` (:func:`request_seed`: a keyed digest of the request's
    Idempotency-Key, so no more guessable)."""
    digits = hashlib.sha256(seed).hexdigest() if seed is not None else uuid.uuid4().hex
    return f"{prefix}-{digits[:12].upper()}"


def request_seed(secret: str, principal_email: str, idempotency_key: str | None,
                 purpose: str) -> bytes | None:
    """What makes a created thing's id the same whenever the same person repeats the same
    request (the same Idempotency-Key): a replay of a call with a seed then creates the same
    ids, and what is ordered or tie-broken by id comes out the same (which experts an
    assignment picks among equals). None without a key (a random id)."""
    if not idempotency_key:
        return None
    message = "\x1f".join((purpose, principal_email.lower(), idempotency_key)).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def topic_page(call_id: str, topic_id: str, total: int, limit: int, offset: int,
               **entries: list) -> dict:
    """One page of a topic's entries (``_TopicPageSchema``), e.g. ``profiles=[...]``."""
    return {"call_id": call_id, "topic_id": topic_id, "total": total, "limit": limit,
            "offset": offset, **entries}
