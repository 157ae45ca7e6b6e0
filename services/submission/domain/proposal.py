"""The Proposal aggregate: a draft that is submitted, resubmitted, withdrawn or frozen.

Each (re)submission received strictly before the deadline becomes a new immutable
:class:`Version`; at the deadline the last on-time version is frozen and is the one that
counts. The aggregate records the integration events it causes in ``events``; the unit
of work collects them into the outbox in the same transaction as the state change.
Parts (part A, part B, budget) are stored by an adapter; the domain sees their name,
SHA-256 and size only.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from services.submission.domain.canonical import sha256_hex
from services.submission.domain.deadline import is_closed, is_on_time, require_aware, utc_iso
from services.submission.domain.errors import (DeadlinePassed, InvalidProposal,
                                               InvalidTransition, WithdrawalClosed)
from shared.events import Event, ProposalScreened, ProposalSubmitted, ProposalWithdrawn
from shared.identifiers import organisation_key

if TYPE_CHECKING:  # only for annotations: screening imports this module
    from services.submission.domain.screening import ScreeningResult

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CENT = Decimal("0.01")


class State(str, Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"
    FROZEN = "frozen"  # after the deadline: its last on-time version counts


@dataclass(frozen=True)
class Participant:
    """An applicant (coordinator) or co-applicant; ``country`` is ISO 3166-1 alpha-2."""

    legal_name: str
    organisation_id: str
    country: str
    entity_type: str
    local_or_regional_authority: bool
    experienced_in_integration: bool
    contact_email: str

    def __post_init__(self):
        if not _COUNTRY.match(self.country or ""):
            raise InvalidProposal(f"country {self.country!r} of {self.legal_name!r} is not "
                                  "an ISO 3166-1 alpha-2 code in capitals")
        for flag in ("local_or_regional_authority", "experienced_in_integration"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidProposal(f"{flag} of {self.legal_name!r} must be yes or no")

    def describe(self, role: str) -> dict:
        """The JSON-safe form used in hashes, snapshots and failure values."""
        return {"role": role, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class Part:
    """A stored document of the proposal (``part_a``, ``part_b``, ``budget``...)."""

    name: str
    sha256: str
    size: int
    filename: str = ""  # as the applicant uploaded it; not part of the content hash

    def __post_init__(self):
        if not _SHA256.match(self.sha256 or ""):
            raise InvalidProposal(f"part {self.name!r}: sha256 must be 64 lower-case hex digits")
        if not isinstance(self.size, int) or self.size < 0:
            raise InvalidProposal(f"part {self.name!r}: size must be a whole number >= 0")


@dataclass(frozen=True)
class ProposalContent:
    """What the applicant fills in: the form data and the parts. Immutable: an edit
    makes a new content."""

    acronym: str
    title: str
    abstract: str
    coordinator: Participant
    duration_months: int
    total_eligible_costs: Decimal
    requested_grant: Decimal
    co_applicants: tuple[Participant, ...] = ()
    integration_areas: tuple[str, ...] = ()
    parts: tuple[Part, ...] = ()

    def __post_init__(self):
        for name in ("co_applicants", "integration_areas", "parts"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("total_eligible_costs", "requested_grant"):
            _check_money(name, getattr(self, name))
        if isinstance(self.duration_months, bool) or not isinstance(self.duration_months, int) \
                or self.duration_months < 1:
            raise InvalidProposal("duration_months must be a whole number of at least 1")
        names = [part.name for part in self.parts]
        if len(names) != len(set(names)):
            raise InvalidProposal(f"each part may be given once, got {names}")

    @property
    def participants(self) -> tuple[tuple[str, Participant], ...]:
        """``(role, participant)`` pairs, the coordinator first."""
        return (("coordinator", self.coordinator),
                *(("co_applicant", p) for p in self.co_applicants))

    @property
    def contact_emails(self) -> list[str]:
        """Every participant's contact address, once each, in participant order."""
        return list(dict.fromkeys(p.contact_email for _, p in self.participants))

    def part(self, name: str) -> Part | None:
        return next((p for p in self.parts if p.name == name), None)

    def snapshot(self) -> dict:
        """The frozen content other services may know (``ProposalSnapshotSchema``)."""
        return {"acronym": self.acronym, "title": self.title, "abstract": self.abstract,
                "integration_areas": list(self.integration_areas),
                "duration_months": self.duration_months,
                "total_eligible_costs": self.total_eligible_costs,
                "requested_grant": self.requested_grant,
                "participants": [p.describe(role) for role, p in self.participants]}

    def hashed_form(self, call_id: str, topic_id: str) -> dict:
        """What the content hash covers: call, topic, form data (money as text with two
        decimals) and each part's name, SHA-256 and size, sorted by name."""
        form = self.snapshot()
        for name in ("total_eligible_costs", "requested_grant"):
            form[name] = str(form[name].quantize(_CENT))
        parts = sorted(({"name": p.name, "sha256": p.sha256, "size": p.size}
                        for p in self.parts), key=lambda p: p["name"])
        return {"call_id": call_id, "topic_id": topic_id, "form": form, "parts": parts}

    def content_hash(self, call_id: str, topic_id: str) -> str:
        """SHA-256 over the canonical JSON of :meth:`hashed_form`."""
        return sha256_hex(self.hashed_form(call_id, topic_id))


def _check_money(name: str, value: Any) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidProposal(f"{name} must be a Decimal amount, got {value!r}")
    if value < 0 or value != value.quantize(_CENT):
        raise InvalidProposal(f"{name} must be >= 0 with at most two decimals, got {value}")


@dataclass(frozen=True)
class Version:
    """One submission as received: immutable once made."""

    number: int
    content: ProposalContent
    content_hash: str
    received_at: datetime


@dataclass(frozen=True)
class Receipt:
    """What the applicant gets back for each submission."""

    proposal_id: str
    version: int
    content_hash: str
    received_at: datetime  # server receipt time

    @property
    def received_at_utc(self) -> str:
        return utc_iso(self.received_at)


def project_key(coordinator_organisation_id: str, acronym: str) -> tuple[str, str]:
    """What makes two proposals the same project (``single_topic``): the coordinator
    organisation (compared by :func:`organisation_key`, so look-alikes match) and the
    acronym, ignoring case and spacing."""
    return organisation_key(coordinator_organisation_id), " ".join(acronym.split()).casefold()


@dataclass(frozen=True)
class Rival:
    """Another frozen proposal of the call as ``single_topic`` compares it: which one,
    in which topic, and its project key; not its content (screening a call of 100,000
    proposals keeps one of these for each, not the proposals)."""

    proposal_id: str
    call_id: str
    topic_id: str
    project_key: tuple[str, str]


@dataclass(frozen=True)
class FrozenProposal:
    """A proposal as it counts after the deadline: its last on-time version. This is
    what screening and the manifest read."""

    proposal_id: str
    call_id: str
    topic_id: str
    version: Version

    @property
    def content(self) -> ProposalContent:
        return self.version.content

    @functools.cached_property
    def project_key(self) -> tuple[str, str]:
        """What makes two proposals the same project (``single_topic``,
        :func:`project_key`). Cached: screening a call compares every proposal with every
        other one."""
        return project_key(self.content.coordinator.organisation_id, self.content.acronym)

    @classmethod
    def of(cls, proposal_id: str, call_id: str, topic_id: str, content: ProposalContent,
           received_at: datetime, number: int = 1) -> "FrozenProposal":
        """Build one directly (tests, replays), computing the content hash."""
        return cls(proposal_id, call_id, topic_id, Version(
            number, content, content.content_hash(call_id, topic_id), received_at))


class Proposal:
    """The aggregate. Build a new one with :meth:`create_draft`; adapters rebuild a
    stored one with the constructor."""

    def __init__(self, id: str, call_id: str, topic_id: str, content: ProposalContent,
                 state: State = State.DRAFT, versions: tuple[Version, ...] = (),
                 frozen_version: Version | None = None, withdrawn_at: datetime | None = None):
        self.id, self.call_id, self.topic_id = id, call_id, topic_id
        self.content = content  # the working copy: what the next submission will send
        self.state = State(state)
        self.versions: list[Version] = list(versions)
        self.frozen_version = frozen_version
        self.withdrawn_at = withdrawn_at
        self.screening: "ScreeningResult | None" = None
        self.events: list[Event] = []

    # ------------------------------------------------------------------ commands
    @classmethod
    def create_draft(cls, *, proposal_id: str, call_id: str, topic_id: str,
                     content: ProposalContent, now: datetime, deadline: datetime) -> "Proposal":
        """A new draft; refused from the deadline on (it could never be submitted)."""
        _refuse_if_closed(now, deadline, "create a proposal")
        return cls(proposal_id, call_id, topic_id, content)

    def edit(self, *, now: datetime, deadline: datetime, **changes: Any) -> None:
        """Change form fields of the working copy (draft, or submitted before the
        deadline: an edit of a submitted proposal counts only once resubmitted)."""
        self._require(State.DRAFT, State.SUBMITTED, doing="edit")
        _refuse_if_closed(now, deadline, "edit")
        unknown = set(changes) - {f.name for f in dataclasses.fields(ProposalContent)}
        if unknown:
            raise InvalidProposal(f"unknown proposal fields: {sorted(unknown)}")
        self.content = dataclasses.replace(self.content, **changes)

    def attach_part(self, part: Part, *, now: datetime, deadline: datetime) -> None:
        """Add or replace a stored part (by name) in the working copy."""
        others = tuple(p for p in self.content.parts if p.name != part.name)
        self.edit(now=now, deadline=deadline, parts=(*others, part))

    def remove_part(self, name: str, *, now: datetime, deadline: datetime) -> None:
        self.edit(now=now, deadline=deadline,
                  parts=tuple(p for p in self.content.parts if p.name != name))

    def submit(self, *, received_at: datetime, deadline: datetime) -> Receipt:
        """First submission of a draft. Refused (nothing changes) unless received
        strictly before the deadline."""
        self._require(State.DRAFT, doing="submit")
        return self._receive(received_at, deadline)

    def resubmit(self, *, received_at: datetime, deadline: datetime) -> Receipt:
        """A new version of a submitted proposal; same deadline rule as :meth:`submit`."""
        self._require(State.SUBMITTED, doing="resubmit")
        return self._receive(received_at, deadline)

    def withdraw(self, *, now: datetime, reason: str = "",
                 ranking_published: bool = False) -> None:
        """Withdraw for good (before or after the deadline). Others hear of it only if
        something was ever submitted. Once the topic's ranking is published it is too
        late: a main-list coordinator declines the grant instead (WithdrawalClosed)."""
        self._require(State.DRAFT, State.SUBMITTED, State.FROZEN, doing="withdraw")
        if ranking_published:
            raise WithdrawalClosed(
                f"cannot withdraw proposal {self.id}: the ranking of topic {self.topic_id} "
                "is published; a coordinator on the main list declines the grant instead "
                "(grant preparation)")
        self.state, self.withdrawn_at = State.WITHDRAWN, require_aware(now, "now")
        if self.versions:
            self.events.append(ProposalWithdrawn(
                call_id=self.call_id, correlation_id=self.id, occurred_at=now,
                proposal_id=self.id, topic_id=self.topic_id, withdrawn_at=now,
                acronym=self.content.acronym, contact_emails=self.contact_emails,
                reason=reason))

    def freeze(self, *, deadline: datetime, now: datetime) -> Version | None:
        """At or after the deadline: fix the last version received strictly before it
        (the deadline may have been amended since). Returns it, or None if nothing
        counts (a draft, a withdrawn proposal). Idempotent."""
        if not is_closed(now, deadline):
            raise InvalidTransition("a proposal is frozen only once the deadline has passed")
        if self.state is State.FROZEN:
            return self.frozen_version
        if self.state is not State.SUBMITTED:
            return None
        on_time = [v for v in self.versions if is_on_time(v.received_at, deadline)]
        if not on_time:
            return None
        self.frozen_version, self.state = on_time[-1], State.FROZEN
        self.content = self.frozen_version.content  # unsubmitted edits do not count
        return self.frozen_version

    def record_screening(self, result: "ScreeningResult", *, now: datetime) -> None:
        """Keep the screening outcome of the frozen version and announce it."""
        frozen = self.frozen()
        if result.proposal_id != self.id or result.version != frozen.version.number:
            raise InvalidTransition("the screening result is not of this frozen version")
        self.screening = result
        self.events.append(ProposalScreened(
            call_id=self.call_id, correlation_id=self.id, occurred_at=now,
            proposal_id=self.id, topic_id=self.topic_id, version=result.version,
            admissible=result.admissible, eligible=result.eligible,
            failed_rules=[f.to_dict() for f in result.failed_rules],
            warnings=[w.to_dict() for w in result.warnings],
            proposal=frozen.content.snapshot(), contact_emails=self.contact_emails))

    # ------------------------------------------------------------------ queries
    @property
    def latest_version(self) -> Version | None:
        return self.versions[-1] if self.versions else None

    @property
    def has_unsubmitted_changes(self) -> bool:
        """True when the working copy differs from the last submitted version."""
        latest = self.latest_version
        return latest is None or latest.content != self.content

    @property
    def contact_emails(self) -> list[str]:
        """Who may act on the proposal and is told about it: the contact of every
        participant of the working copy (after the freeze: of the frozen version)."""
        return self.content.contact_emails

    def is_contact(self, email: str) -> bool:
        """Whether ``email`` is one of the contacts (addresses compare case-insensitively)."""
        return email.strip().casefold() in {e.casefold() for e in self.contact_emails}

    def frozen(self) -> FrozenProposal:
        """The frozen view screening reads; InvalidTransition if not frozen."""
        if self.state is not State.FROZEN or self.frozen_version is None:
            raise InvalidTransition(f"proposal {self.id} is {self.state.value}, not frozen")
        return FrozenProposal(self.id, self.call_id, self.topic_id, self.frozen_version)

    def pull_events(self) -> list[Event]:
        """The recorded events, emptying the list (for the unit of work)."""
        events, self.events = self.events, []
        return events

    # ------------------------------------------------------------------ internals
    def _receive(self, received_at: datetime, deadline: datetime) -> Receipt:
        if not is_on_time(received_at, deadline):
            raise DeadlinePassed(f"received at {utc_iso(received_at)}, not before the "
                                 f"deadline {utc_iso(deadline)}; the submission is refused")
        latest = self.latest_version
        if latest is not None and is_on_time(received_at, latest.received_at):
            # versions are numbered in receipt order; a clock going back would break that
            raise InvalidTransition("receipt time is earlier than the previous version's")
        unchanged = latest is not None and latest.content is self.content
        content_hash = latest.content_hash if unchanged else \
            self.content.content_hash(self.call_id, self.topic_id)
        # numbered from the latest version, so an adapter may load only that one
        number = latest.number + 1 if latest is not None else 1
        version = Version(number, self.content, content_hash, received_at)
        self.versions.append(version)
        self.state = State.SUBMITTED
        self.events.append(ProposalSubmitted(
            call_id=self.call_id, correlation_id=self.id, occurred_at=received_at,
            proposal_id=self.id, topic_id=self.topic_id, version=version.number,
            content_hash=content_hash, received_at=received_at,
            acronym=self.content.acronym, title=self.content.title,
            applicant_name=self.content.coordinator.legal_name,
            contact_emails=self.contact_emails))
        return Receipt(self.id, version.number, content_hash, received_at)

    def _require(self, *states: State, doing: str) -> None:
        if self.state not in states:
            raise InvalidTransition(f"cannot {doing} proposal {self.id}: it is "
                                    f"{self.state.value}")


def _refuse_if_closed(now: datetime, deadline: datetime, doing: str) -> None:
    if is_closed(now, deadline):
        raise DeadlinePassed(f"cannot {doing}: the submission deadline "
                             f"{utc_iso(deadline)} has passed")
