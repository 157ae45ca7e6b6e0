"""A grant preparation file: one per invited proposal, from invitation to signature.

States and the only steps between them::

    invited --confirm_data--> data_confirmed --sign_by_coordinator--> coordinator_signed
        --sign_by_authority--> signed
    invited | data_confirmed | coordinator_signed --decline/withdraw/expire--> declined

The file records the integration events it causes in ``events``; the unit of work writes
them to the outbox in the same transaction as the file (``pull_events``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from shared.calls.model import Call
from shared.events import (Event, GrantDeclined, GrantPreparationStarted,
                           GrantSignatureRequested, GrantSigned)

from services.grants.domain.errors import DeadlinePassed, GrantError, IllegalTransition
from services.grants.domain.money import maximum_grant, prefinancing_amount
from services.grants.domain.terms import (Beneficiary, Candidate, Deadlines,
                                          project_start_date, require_aware, signature_cap,
                                          unique_emails, utc)


class State(str, Enum):
    INVITED = "invited"
    DATA_CONFIRMED = "data_confirmed"
    COORDINATOR_SIGNED = "coordinator_signed"
    SIGNED = "signed"
    DECLINED = "declined"


OPEN_STATES = (State.INVITED, State.DATA_CONFIRMED, State.COORDINATOR_SIGNED)

# GrantDeclined.reason values (catalogue comment)
DECLINED = "declined"
WITHDRAWN = "withdrawn"
PREPARATION_DEADLINE_MISSED = "preparation_deadline_missed"
SIGNATURE_DEADLINE_MISSED = "signature_deadline_missed"
END_REASONS = (DECLINED, WITHDRAWN, PREPARATION_DEADLINE_MISSED, SIGNATURE_DEADLINE_MISSED)

_ORDER = ("invited -> data_confirmed (coordinator confirms the grant data) -> "
          "coordinator_signed -> signed (authority signs)")


def grant_id_for(proposal_id: str) -> str:
    """One file per proposal, ever: a stable id makes a replayed invitation harmless."""
    return f"GRANT-{proposal_id}"


@dataclass(frozen=True)
class PaymentOrder:
    """A payment the authority must make; recorded, not executed, by this domain."""

    grant_id: str
    kind: str  # prefinancing
    amount: Decimal
    ordered_at: datetime


@dataclass(eq=False)
class GrantFile:
    grant_id: str
    call_id: str
    topic_id: str
    proposal_id: str
    acronym: str
    rank: int
    requested_grant: Decimal
    total_eligible_costs: Decimal
    max_grant: Decimal
    prefinancing_rate: Decimal
    duration_months: int
    start_date: date
    beneficiaries: tuple[Beneficiary, ...]
    coordinator_email: str
    contact_emails: tuple[str, ...]
    authority_email: str
    invited_at: datetime
    preparation_deadline: datetime
    signature_deadline: datetime
    promoted_from_reserve: bool = False
    state: State = State.INVITED
    data_confirmed_at: datetime | None = None
    coordinator_signed_at: datetime | None = None
    authority_signed_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    payment_orders: list[PaymentOrder] = field(default_factory=list)
    events: list[Event] = field(default_factory=list, repr=False)

    # ------------------------------------------------------------------ creation
    @classmethod
    def start(cls, candidate: Candidate, call: Call, invited_at: datetime, authority_email: str,
              *, causation_id: str | None = None,
              promoted_from_reserve: bool = False) -> "GrantFile":
        """Open the file of an invited proposal and record GrantPreparationStarted.

        ``invited_at`` is when the invitation goes out (see ``terms.invitation_time``);
        deadlines count from it, so a promoted reserve proposal gets fresh ones."""
        rules = call.grants
        deadlines = Deadlines.from_invitation(invited_at, rules, call.timezone,
                                              signature_cap(call, promoted_from_reserve))
        coordinator = candidate.coordinator_email.strip().lower()
        grant = cls(
            grant_id=grant_id_for(candidate.proposal_id), call_id=call.id,
            topic_id=candidate.topic_id, proposal_id=candidate.proposal_id,
            acronym=candidate.acronym, rank=candidate.rank,
            requested_grant=candidate.requested_grant,
            total_eligible_costs=candidate.total_eligible_costs,
            max_grant=maximum_grant(candidate.requested_grant, candidate.total_eligible_costs,
                                    rules.cofinancing_cap),
            prefinancing_rate=rules.prefinancing_rate,
            duration_months=candidate.duration_months,
            start_date=project_start_date(deadlines.signature),
            beneficiaries=candidate.beneficiaries, coordinator_email=coordinator,
            contact_emails=unique_emails((coordinator, *candidate.contact_emails)),
            authority_email=authority_email, invited_at=deadlines.invited_at,
            preparation_deadline=deadlines.preparation,
            signature_deadline=deadlines.signature,
            promoted_from_reserve=promoted_from_reserve)
        grant._record(GrantPreparationStarted, invited_at, causation_id,
                      grant_id=grant.grant_id, topic_id=grant.topic_id, acronym=grant.acronym,
                      max_grant=grant.max_grant, requested_grant=grant.requested_grant,
                      total_eligible_costs=grant.total_eligible_costs,
                      duration_months=grant.duration_months, start_date=grant.start_date,
                      preparation_deadline=grant.preparation_deadline,
                      signature_deadline=grant.signature_deadline,
                      coordinator_email=grant.coordinator_email,
                      contact_emails=list(grant.contact_emails),
                      promoted_from_reserve=promoted_from_reserve)
        return grant

    # ------------------------------------------------------------------ steps
    def confirm_data(self, now: datetime, causation_id: str | None = None) -> None:
        """The coordinator confirmed the grant data; ask the coordinator to sign."""
        self._expect(State.INVITED, "confirm the grant data", now,
                     "the grant data is confirmed once, before any signature; " + _ORDER)
        self._on_time("confirm the grant data", "preparation", self.preparation_deadline, now)
        self.state, self.data_confirmed_at = State.DATA_CONFIRMED, now
        self._request_signature("coordinator", self.coordinator_email, now, causation_id)

    def sign_by_coordinator(self, now: datetime, causation_id: str | None = None) -> None:
        """The coordinator signed; ask the authority to sign."""
        self._expect(State.DATA_CONFIRMED, "be signed by the coordinator", now,
                     "the coordinator signs after confirming the grant data and before "
                     "the authority; " + _ORDER)
        self._on_time("sign as coordinator", "signature", self.signature_deadline, now)
        self.state, self.coordinator_signed_at = State.COORDINATOR_SIGNED, now
        self._request_signature("authority", self.authority_email, now, causation_id)

    def sign_by_authority(self, now: datetime, causation_id: str | None = None) -> None:
        """The authority signed: the grant is signed and pre-financing is ordered.

        Allowed after the signature deadline: the coordinator did their part on time and
        is not penalised for the authority's delay (time to grant measures that delay)."""
        self._expect(State.COORDINATOR_SIGNED, "be signed by the authority", now,
                     "the authority signs last, after the coordinator; " + _ORDER)
        self.state, self.authority_signed_at = State.SIGNED, now
        order = PaymentOrder(self.grant_id, "prefinancing",
                             prefinancing_amount(self.max_grant, self.prefinancing_rate), now)
        self.payment_orders.append(order)
        self._record(GrantSigned, now, causation_id, grant_id=self.grant_id,
                     topic_id=self.topic_id, acronym=self.acronym, amount=self.max_grant,
                     signed_at=now, prefinancing_amount=order.amount,
                     contact_emails=list(self.contact_emails))

    def decline(self, now: datetime, reason: str = DECLINED,
                causation_id: str | None = None) -> None:
        """End the file before signature (coordinator declined, proposal withdrawn, or a
        deadline missed); its whole maximum grant goes back to the topic budget."""
        if reason not in END_REASONS:
            raise ValueError(f"unknown end reason {reason!r}; expected one of {END_REASONS}")
        if self.state not in OPEN_STATES:
            raise IllegalTransition(self.grant_id, self.state.value, f"end ({reason})",
                                    "a file ends by decline, withdrawal or a missed deadline "
                                    "only before the grant is signed, and only once")
        self._check_clock(now)
        self.state, self.ended_at, self.end_reason = State.DECLINED, now, reason
        self._record(GrantDeclined, now, causation_id, grant_id=self.grant_id,
                     topic_id=self.topic_id, acronym=self.acronym, reason=reason,
                     freed_budget=self.max_grant, contact_emails=list(self.contact_emails))

    def withdraw(self, now: datetime, causation_id: str | None = None) -> None:
        """The proposal was withdrawn during grant preparation."""
        self.decline(now, WITHDRAWN, causation_id)

    def expire(self, now: datetime) -> bool:
        """End the file if the coordinator missed a deadline by ``now``; True if it ended.

        Call it from the clock tick. Once the coordinator has signed nothing expires (the
        authority's delay is not the applicant's fault)."""
        reason = self.missed_deadline(now)
        if reason is None:
            return False
        self.decline(now, reason)
        return True

    def missed_deadline(self, now: datetime) -> str | None:
        """The end reason the coordinator has earned by ``now``, or None."""
        require_aware("now", now)
        if self.state is State.INVITED and utc(now) > utc(self.preparation_deadline):
            return PREPARATION_DEADLINE_MISSED
        if self.state is State.DATA_CONFIRMED and utc(now) > utc(self.signature_deadline):
            return SIGNATURE_DEADLINE_MISSED
        return None

    @property
    def readers(self) -> tuple[str, ...]:
        """Who may read the file: the coordinator, the proposal's contacts and each
        beneficiary's contact (every party to the grant agreement)."""
        return unique_emails((self.coordinator_email, *self.contact_emails,
                              *(b.contact_email for b in self.beneficiaries)))

    @property
    def freed_budget(self) -> Decimal:
        """What this file gives back to the topic: all of it once declined, else nothing."""
        return self.max_grant if self.state is State.DECLINED else Decimal("0.00")

    def pull_events(self) -> list[Event]:
        """The recorded events, oldest first, and forget them (the outbox has them now)."""
        events, self.events = self.events, []
        return events

    # ------------------------------------------------------------------ helpers
    def _expect(self, state: State, step: str, now: datetime, rule: str) -> None:
        if self.state is not state:
            raise IllegalTransition(self.grant_id, self.state.value, step, rule)
        self._check_clock(now)

    def _check_clock(self, now: datetime) -> None:
        require_aware("now", now)
        if utc(now) < utc(self.invited_at):
            raise GrantError(f"grant {self.grant_id}: {now.isoformat()} is before the "
                             f"invitation ({self.invited_at.isoformat()}); nothing can "
                             "happen to a file before it exists")

    def _on_time(self, step: str, name: str, deadline: datetime, now: datetime) -> None:
        if utc(now) > utc(deadline):
            raise DeadlinePassed(self.grant_id, step, name, deadline, now)

    def _request_signature(self, party: str, email: str, now: datetime,
                           causation_id: str | None) -> None:
        self._record(GrantSignatureRequested, now, causation_id, grant_id=self.grant_id,
                     party=party, recipient_email=email, due_at=self.signature_deadline,
                     acronym=self.acronym)

    def _record(self, event_class: type[Event], now: datetime, causation_id: str | None,
                **payload) -> None:
        self.events.append(event_class(call_id=self.call_id, correlation_id=self.proposal_id,
                                       occurred_at=now, causation_id=causation_id,
                                       proposal_id=self.proposal_id, **payload))
