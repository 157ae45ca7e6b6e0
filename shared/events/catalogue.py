"""The integration events of Grantflow (architecture guide, section 2).

One dataclass per event; its wire schema lives in :mod:`shared.events.schemas`. Nested
structures are plain dicts and lists whose shape the schema defines and validates. Money
is :class:`decimal.Decimal` (EUR), instants are aware datetimes.

Events that concern a person carry the addresses to tell, so notifications never has to
read another service's data (architecture rule 9).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from shared.events.base import Event


# --------------------------------------------------------------------------- submission
@dataclass(frozen=True, kw_only=True)
class CallPublished(Event):
    """A call (or a new version of it) was loaded. ``call`` is the whole validated call
    document in its wire form, so every service can keep its own copy of the rules."""

    producer = "submission"
    version: int
    title: str
    call: dict
    changes: list = field(default_factory=list)  # human-readable, empty for version 1
    notify_emails: list = field(default_factory=list)  # registered applicants to tell


@dataclass(frozen=True, kw_only=True)
class ProposalSubmitted(Event):
    """Each (re)submission: a new version was received."""

    producer = "submission"
    proposal_id: str
    topic_id: str
    version: int
    content_hash: str
    received_at: datetime
    acronym: str
    title: str
    applicant_name: str
    contact_emails: list


@dataclass(frozen=True, kw_only=True)
class ProposalWithdrawn(Event):
    producer = "submission"
    proposal_id: str
    topic_id: str
    withdrawn_at: datetime
    acronym: str
    contact_emails: list
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class TimetableStageReached(Event):
    """The call's clock reached the instant a timetable stage starts (or a period ends)."""

    producer = "submission"
    stage: str
    label: str
    at: datetime
    call_version: int


@dataclass(frozen=True, kw_only=True)
class DeadlineClosed(Event):
    """A topic closed: its proposals are frozen at their last on-time version.

    ``manifest`` entries: ``{proposal_id, version, content_hash, received_at}`` (received_at
    as ISO text, exactly as hashed); ``manifest_hash`` is SHA-256 over the canonical JSON
    of the entries sorted by proposal id.
    """

    producer = "submission"
    topic_id: str
    deadline: datetime
    closed_at: datetime
    manifest: list
    manifest_hash: str


@dataclass(frozen=True, kw_only=True)
class ProposalScreened(Event):
    """Admissibility and eligibility outcome of a frozen proposal.

    ``failed_rules`` / ``warnings`` entries: ``{rule, kind, message, values}`` where kind is
    ``admissibility`` or ``eligibility``. ``proposal`` is the frozen content evaluation needs
    (see ``ProposalSnapshotSchema``)."""

    producer = "submission"
    proposal_id: str
    topic_id: str
    version: int
    admissible: bool
    eligible: bool
    failed_rules: list
    proposal: dict
    contact_emails: list
    warnings: list = field(default_factory=list)



@dataclass(frozen=True, kw_only=True)
class AnswerPublished(Event):
    """Operations published the answer to a question on a topic (partner search and Q&A).

    Published once per question; ``notify_emails`` are the applicants of the call to tell
    (contacts of its proposals that are not withdrawn, organisations with a published
    partner profile, people who asked a question), lower case, each once. Correlation id:
    the question id."""

    producer = "submission"
    question_id: str
    topic_id: str
    question: str
    answer: str
    published_at: datetime
    notify_emails: list = field(default_factory=list)

# --------------------------------------------------------------------------- evaluation
@dataclass(frozen=True, kw_only=True)
class EvaluatorAssigned(Event):
    producer = "evaluation"
    proposal_id: str
    topic_id: str
    expert_id: str
    expert_name: str
    expert_email: str
    acronym: str
    due_at: datetime
    reason: str = "initial"  # initial | repair | extra (spread) | rapporteur


@dataclass(frozen=True, kw_only=True)
class EvaluatorReleased(Event):
    producer = "evaluation"
    proposal_id: str
    topic_id: str
    expert_id: str
    expert_email: str
    reason: str  # conflict_declared | declined | proposal_withdrawn | deactivated | operations
    expert_name: str = ""
    acronym: str = ""


@dataclass(frozen=True, kw_only=True)
class EvaluationReportSubmitted(Event):
    producer = "evaluation"
    proposal_id: str
    topic_id: str
    expert_id: str
    total: Decimal
    final: bool


@dataclass(frozen=True, kw_only=True)
class EvaluationCompleted(Event):
    """Consensus reached. ``scores``/``comments`` are keyed by criterion id."""

    producer = "evaluation"
    proposal_id: str
    topic_id: str
    scores: dict
    comments: dict
    total: Decimal
    passed: bool
    failed_thresholds: list
    method: str  # mean | rapporteur
    spread_flagged: bool
    acronym: str
    contact_emails: list


@dataclass(frozen=True, kw_only=True)
class RankingPublished(Event):
    """A topic's ranking. Entries: see ``RankingEntrySchema``."""

    producer = "evaluation"
    topic_id: str
    budget: Decimal
    main: list
    reserve: list
    rejected: list
    funded_total: Decimal


# --------------------------------------------------------------------------- grants
@dataclass(frozen=True, kw_only=True)
class GrantPreparationStarted(Event):
    producer = "grants"
    grant_id: str
    proposal_id: str
    topic_id: str
    acronym: str
    max_grant: Decimal
    requested_grant: Decimal
    total_eligible_costs: Decimal
    duration_months: int
    start_date: date
    preparation_deadline: datetime
    signature_deadline: datetime
    coordinator_email: str
    contact_emails: list
    promoted_from_reserve: bool = False


@dataclass(frozen=True, kw_only=True)
class GrantSignatureRequested(Event):
    producer = "grants"
    grant_id: str
    proposal_id: str
    party: str  # coordinator | authority
    recipient_email: str
    due_at: datetime
    acronym: str


@dataclass(frozen=True, kw_only=True)
class GrantSigned(Event):
    producer = "grants"
    grant_id: str
    proposal_id: str
    topic_id: str
    acronym: str
    amount: Decimal
    signed_at: datetime
    prefinancing_amount: Decimal
    contact_emails: list


@dataclass(frozen=True, kw_only=True)
class GrantDeclined(Event):
    producer = "grants"
    grant_id: str
    proposal_id: str
    topic_id: str
    acronym: str
    reason: str  # declined | withdrawn | preparation_deadline_missed | signature_deadline_missed
    freed_budget: Decimal
    contact_emails: list


@dataclass(frozen=True, kw_only=True)
class ReservePromoted(Event):
    producer = "grants"
    proposal_id: str
    topic_id: str
    rank: int
    freed_by: str  # proposal id whose grant was declined
    available_budget: Decimal
    acronym: str
    contact_emails: list


@dataclass(frozen=True, kw_only=True)
class TimeTargetBreached(Event):
    """A proposal's time to inform (tti) or time to grant (ttg) exceeded the call's target."""

    producer = "grants"
    proposal_id: str
    measure: str  # tti | ttg
    days: int
    target_months: int
    limit_at: datetime | None = None  # the instant the target fell due


# --------------------------------------------------------------------------- notifications
@dataclass(frozen=True, kw_only=True)
class NotificationDelivered(Event):
    producer = "notifications"
    # grants wants the result letters' deliveries alone: one in four
    routed_by = "template"
    notification_id: str
    source_event_id: str
    source_event_type: str
    recipient: str
    template: str
    message_id: str
    sent_at: datetime
    proposal_id: str | None = None
    #: a notification_deferred went out for this message earlier (it is no longer retrying)
    after_deferral: bool = False


@dataclass(frozen=True, kw_only=True)
class NotificationFailed(Event):
    producer = "notifications"
    notification_id: str
    source_event_id: str
    source_event_type: str
    recipient: str
    template: str
    reason: str
    proposal_id: str | None = None
    #: a notification_deferred went out for this message earlier (it is no longer retrying)
    after_deferral: bool = False


@dataclass(frozen=True, kw_only=True)
class NotificationDeferred(Event):
    """A message could not be delivered yet (SMTP server unreachable or 4xx) and waits for
    a retry. Once per message, at its first deferral: its later outcome comes as a
    notification_delivered or notification_failed with ``after_deferral``."""

    producer = "notifications"
    notification_id: str
    source_event_id: str
    source_event_type: str
    recipient: str
    template: str
    reason: str
    proposal_id: str | None = None


# --------------------------------------------------------------------------- sign-in
@dataclass(frozen=True, kw_only=True)
class ApplicantSignInRequested(Event):
    """Somebody asked for a link to sign in to the applicants' pages (``/apply/``).
    Notifications mails it, minting the single-use link itself: the token never travels
    on the broker. ``call_id`` is the newest published call (the mail names it)."""

    producer = "submission"
    email: str
    next_url: str = ""


@dataclass(frozen=True, kw_only=True)
class EvaluatorSignInRequested(Event):
    """An expert of the pool asked for a link to the evaluators' pages (``/review/``);
    addresses that are no expert's cause no event (and the page says the same)."""

    producer = "evaluation"
    expert_id: str
    expert_name: str
    email: str
    next_url: str = ""


ALL_EVENTS: tuple[type[Event], ...] = (
    CallPublished, ProposalSubmitted, ProposalWithdrawn, TimetableStageReached,
    DeadlineClosed, ProposalScreened, AnswerPublished,
    EvaluatorAssigned, EvaluatorReleased, EvaluationReportSubmitted, EvaluationCompleted,
    RankingPublished,
    GrantPreparationStarted, GrantSignatureRequested, GrantSigned, GrantDeclined,
    ReservePromoted, TimeTargetBreached,
    NotificationDelivered, NotificationFailed,
    ApplicantSignInRequested, EvaluatorSignInRequested,
    NotificationDelivered, NotificationFailed, NotificationDeferred,
)
