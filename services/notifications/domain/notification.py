"""A notification: one message to one recipient, decided by the domain, sent by adapters.

Its ``key`` is what makes delivery exactly-once: the service stores the key with a unique
constraint and sends only when the insert succeeds, so a redelivered event, a replayed
timetable or a second reminder run produce no second message.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

# roles: who the recipient is for this message
APPLICANT_CONTACT = "applicant_contact"
COORDINATOR = "coordinator"
REGISTERED_APPLICANT = "registered_applicant"
EXPERT = "expert"
AUTHORITY = "authority"
OPERATIONS = "operations"

# template names; each is services/notifications/templates/<name>.txt.j2
SUBMISSION_RECEIPT = "submission_receipt"
CALL_AMENDED = "call_amended"
SCREENING_RESULT = "screening_result"
WITHDRAWAL_CONFIRMATION = "withdrawal_confirmation"
EVALUATOR_ASSIGNED = "evaluator_assigned"
EVALUATOR_RELEASED = "evaluator_released"
EVALUATION_REMINDER = "evaluation_reminder"
RESULT_LETTER = "result_letter"
GRANT_INVITATION = "grant_invitation"
SIGNATURE_REQUEST_COORDINATOR = "signature_request_coordinator"
SIGNATURE_REQUEST_AUTHORITY = "signature_request_authority"
GRANT_SIGNED = "grant_signed"
GRANT_DECLINED = "grant_declined"
RESERVE_PROMOTED = "reserve_promoted"
TIME_TARGET_BREACH = "time_target_breach"
DAILY_DIGEST = "daily_digest"
ANSWER_PUBLISHED = "answer_published"
SIGN_IN_LINK = "sign_in_link"

TEMPLATES = (SUBMISSION_RECEIPT, CALL_AMENDED, SCREENING_RESULT, WITHDRAWAL_CONFIRMATION,
             EVALUATOR_ASSIGNED, EVALUATOR_RELEASED, EVALUATION_REMINDER, RESULT_LETTER,
             GRANT_INVITATION, SIGNATURE_REQUEST_COORDINATOR, SIGNATURE_REQUEST_AUTHORITY,
             GRANT_SIGNED, GRANT_DECLINED, RESERVE_PROMOTED, TIME_TARGET_BREACH, DAILY_DIGEST,
             ANSWER_PUBLISHED, SIGN_IN_LINK)

_KEY_NAMESPACE = uuid.UUID("6f1c7f1e-2b51-4c4e-9a59-2f0c0f3b5a10")


@dataclass(frozen=True)
class Notification:
    """Send ``template`` rendered with ``context`` to ``recipient`` (acting as ``role``).

    ``context`` holds only str, int, bool, None, lists and dicts of those, already
    formatted (money, instants in the call's time zone and UTC), so it survives being
    stored as JSON and rendered later. ``dedupe_id`` replaces the source event id in the
    key where one message must stay unique across several possible causes (one result
    letter per proposal, one reminder per assignment and offset)."""

    recipient: str
    role: str
    template: str
    context: Mapping[str, Any] = field(compare=False)
    source_event_id: str
    source_event_type: str
    call_id: str
    proposal_id: str | None = None
    dedupe_id: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """(source event id or dedupe id, recipient, template): one message per key."""
        return (self.dedupe_id or self.source_event_id, self.recipient, self.template)

    @property
    def notification_id(self) -> str:
        """A UUID derived from the key, so every retry reports the same id."""
        return str(uuid.uuid5(_KEY_NAMESPACE, "\x1f".join(self.key)))


def unique_recipients(*groups: Iterable[str]) -> list[str]:
    """Addresses stripped and lower-cased, de-duplicated, first occurrence kept."""
    seen: dict[str, None] = {}
    for group in groups:
        for email in group:
            if email and email.strip():
                seen.setdefault(email.strip().lower(), None)
    return list(seen)
