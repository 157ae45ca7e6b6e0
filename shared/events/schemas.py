"""One marshmallow schema per integration event: producers dump with it, consumers load
with it (architecture rule 5). Consumers ignore unknown fields (tolerant reader), so an
additive change does not need a new ``schema_version``; anything else does, with an
upcaster registered in :mod:`shared.events.registry`.
"""
from __future__ import annotations

from marshmallow import (EXCLUDE, Schema, ValidationError, fields, post_dump, post_load,
                         pre_load, validate)

from shared.events import catalogue as c

Money = lambda **kw: fields.Decimal(as_string=True, places=2, **kw)  # noqa: E731
Instant = lambda **kw: fields.AwareDateTime(format="iso", **kw)  # noqa: E731
Emails = lambda **kw: fields.List(fields.Email(), **kw)  # noqa: E731


class EnvelopeSchema(Schema):
    """The envelope; subclasses set ``event_class`` and add the payload fields."""

    event_class: type[c.Event]

    class Meta:
        unknown = EXCLUDE
        ordered = True

    event_id = fields.UUID(required=True)
    event_type = fields.String(required=True)
    schema_version = fields.Integer(required=True)
    occurred_at = Instant(required=True)
    call_id = fields.String(required=True)
    correlation_id = fields.String(required=True)
    causation_id = fields.String(allow_none=True, load_default=None)

    @post_dump
    def _add_type(self, data, **_):
        data["event_type"] = self.event_class.event_type()
        data["schema_version"] = self.event_class.schema_version
        data["event_id"] = str(data["event_id"])
        return data

    @pre_load
    def _check_type(self, data, **_):
        expected = self.event_class.event_type()
        if isinstance(data, dict) and data.get("event_type") not in (None, expected):
            raise ValidationError(f"expected event_type {expected!r}", "event_type")
        return data

    @post_load
    def _make(self, data, **_):
        data.pop("event_type", None)
        version = data.pop("schema_version")
        if version != self.event_class.schema_version:
            raise ValidationError(
                f"schema_version {version} is not {self.event_class.schema_version}; "
                "upcast it first", "schema_version")
        data["event_id"] = str(data["event_id"])
        return self.event_class(**data)


# ------------------------------------------------------------------ nested shapes
class _Strict(Schema):
    class Meta:
        unknown = EXCLUDE
        ordered = True


class ManifestEntrySchema(_Strict):
    proposal_id = fields.String(required=True)
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    content_hash = fields.String(required=True)
    received_at = fields.String(required=True)  # ISO text exactly as hashed


class RuleOutcomeSchema(_Strict):
    rule = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["admissibility", "eligibility"]))
    message = fields.String(required=True)
    values = fields.Dict(load_default=dict)


class ParticipantSchema(_Strict):
    role = fields.String(required=True, validate=validate.OneOf(["coordinator", "co_applicant"]))
    legal_name = fields.String(required=True)
    organisation_id = fields.String(required=True)
    country = fields.String(required=True, validate=validate.Length(equal=2))
    entity_type = fields.String(required=True)
    local_or_regional_authority = fields.Boolean(required=True)
    experienced_in_integration = fields.Boolean(required=True)
    contact_email = fields.Email(required=True)


class ProposalSnapshotSchema(_Strict):
    """The frozen content of a proposal that other services may know."""

    acronym = fields.String(required=True)
    title = fields.String(required=True)
    abstract = fields.String(required=True)
    integration_areas = fields.List(fields.String(), required=True)
    duration_months = fields.Integer(required=True)
    total_eligible_costs = Money(required=True)
    requested_grant = Money(required=True)
    participants = fields.List(fields.Nested(ParticipantSchema), required=True)


class RankingEntrySchema(_Strict):
    proposal_id = fields.String(required=True)
    rank = fields.Integer(allow_none=True, load_default=None)  # None for rejected
    total = fields.Decimal(as_string=True, required=True)
    scores = fields.Dict(keys=fields.String(), values=fields.Decimal(as_string=True), required=True)
    tie_break = fields.String(allow_none=True, load_default=None)  # deciding step, if any
    requested_grant = Money(required=True)
    total_eligible_costs = Money(required=True)
    grant_amount = Money(allow_none=True, load_default=None)  # what ranking counted
    duration_months = fields.Integer(required=True)
    acronym = fields.String(required=True)
    contact_emails = Emails(required=True)
    # main and reserve entries only: grant preparation's beneficiaries (a rejected entry
    # is published without them)
    participants = fields.List(fields.Nested(ParticipantSchema), load_default=list)
    failed_thresholds = fields.List(fields.String(), load_default=list)


# ------------------------------------------------------------------ submission
class CallPublishedSchema(EnvelopeSchema):
    event_class = c.CallPublished
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    title = fields.String(required=True)
    call = fields.Dict(required=True)
    changes = fields.List(fields.String(), load_default=list)
    notify_emails = Emails(load_default=list)


class ProposalSubmittedSchema(EnvelopeSchema):
    event_class = c.ProposalSubmitted
    proposal_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    content_hash = fields.String(required=True)
    received_at = Instant(required=True)
    acronym = fields.String(required=True)
    title = fields.String(required=True)
    applicant_name = fields.String(required=True)
    contact_emails = Emails(required=True)


class ProposalWithdrawnSchema(EnvelopeSchema):
    event_class = c.ProposalWithdrawn
    proposal_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    withdrawn_at = Instant(required=True)
    acronym = fields.String(required=True)
    contact_emails = Emails(required=True)
    reason = fields.String(load_default="")


class TimetableStageReachedSchema(EnvelopeSchema):
    event_class = c.TimetableStageReached
    stage = fields.String(required=True)
    label = fields.String(required=True)
    at = Instant(required=True)
    call_version = fields.Integer(required=True)


class DeadlineClosedSchema(EnvelopeSchema):
    event_class = c.DeadlineClosed
    topic_id = fields.String(required=True)
    deadline = Instant(required=True)
    closed_at = Instant(required=True)
    manifest = fields.List(fields.Nested(ManifestEntrySchema), required=True)
    manifest_hash = fields.String(required=True)


class ProposalScreenedSchema(EnvelopeSchema):
    event_class = c.ProposalScreened
    proposal_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    version = fields.Integer(required=True)
    admissible = fields.Boolean(required=True)
    eligible = fields.Boolean(required=True)
    failed_rules = fields.List(fields.Nested(RuleOutcomeSchema), required=True)
    warnings = fields.List(fields.Nested(RuleOutcomeSchema), load_default=list)
    proposal = fields.Nested(ProposalSnapshotSchema, required=True)
    contact_emails = Emails(required=True)



class AnswerPublishedSchema(EnvelopeSchema):
    event_class = c.AnswerPublished
    question_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    question = fields.String(required=True)
    answer = fields.String(required=True)
    published_at = Instant(required=True)
    notify_emails = Emails(load_default=list)

# ------------------------------------------------------------------ evaluation
class EvaluatorAssignedSchema(EnvelopeSchema):
    event_class = c.EvaluatorAssigned
    proposal_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    expert_id = fields.String(required=True)
    expert_name = fields.String(required=True)
    expert_email = fields.Email(required=True)
    acronym = fields.String(required=True)
    due_at = Instant(required=True)
    reason = fields.String(load_default="initial")


class EvaluatorReleasedSchema(EnvelopeSchema):
    event_class = c.EvaluatorReleased
    proposal_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    expert_id = fields.String(required=True)
    expert_email = fields.Email(required=True)
    reason = fields.String(required=True)
    expert_name = fields.String(load_default="")
    acronym = fields.String(load_default="")


class EvaluationReportSubmittedSchema(EnvelopeSchema):
    event_class = c.EvaluationReportSubmitted
    proposal_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    expert_id = fields.String(required=True)
    total = fields.Decimal(as_string=True, required=True)
    final = fields.Boolean(required=True)


class EvaluationCompletedSchema(EnvelopeSchema):
    event_class = c.EvaluationCompleted
    proposal_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    scores = fields.Dict(keys=fields.String(), values=fields.Decimal(as_string=True), required=True)
    comments = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    total = fields.Decimal(as_string=True, required=True)
    passed = fields.Boolean(required=True)
    failed_thresholds = fields.List(fields.String(), required=True)
    method = fields.String(required=True, validate=validate.OneOf(["mean", "rapporteur"]))
    spread_flagged = fields.Boolean(required=True)
    acronym = fields.String(required=True)
    contact_emails = Emails(required=True)


class RankingPublishedSchema(EnvelopeSchema):
    event_class = c.RankingPublished
    topic_id = fields.String(required=True)
    budget = Money(required=True)
    main = fields.List(fields.Nested(RankingEntrySchema), required=True)
    reserve = fields.List(fields.Nested(RankingEntrySchema), required=True)
    rejected = fields.List(fields.Nested(RankingEntrySchema), required=True)
    funded_total = Money(required=True)


# ------------------------------------------------------------------ grants
class GrantPreparationStartedSchema(EnvelopeSchema):
    event_class = c.GrantPreparationStarted
    grant_id = fields.String(required=True)
    proposal_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    acronym = fields.String(required=True)
    max_grant = Money(required=True)
    requested_grant = Money(required=True)
    total_eligible_costs = Money(required=True)
    duration_months = fields.Integer(required=True)
    start_date = fields.Date(required=True)
    preparation_deadline = Instant(required=True)
    signature_deadline = Instant(required=True)
    coordinator_email = fields.Email(required=True)
    contact_emails = Emails(required=True)
    promoted_from_reserve = fields.Boolean(load_default=False)


class GrantSignatureRequestedSchema(EnvelopeSchema):
    event_class = c.GrantSignatureRequested
    grant_id = fields.String(required=True)
    proposal_id = fields.String(required=True)
    party = fields.String(required=True, validate=validate.OneOf(["coordinator", "authority"]))
    recipient_email = fields.Email(required=True)
    due_at = Instant(required=True)
    acronym = fields.String(required=True)


class GrantSignedSchema(EnvelopeSchema):
    event_class = c.GrantSigned
    grant_id = fields.String(required=True)
    proposal_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    acronym = fields.String(required=True)
    amount = Money(required=True)
    signed_at = Instant(required=True)
    prefinancing_amount = Money(required=True)
    contact_emails = Emails(required=True)


class GrantDeclinedSchema(EnvelopeSchema):
    event_class = c.GrantDeclined
    grant_id = fields.String(required=True)
    proposal_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    acronym = fields.String(required=True)
    reason = fields.String(required=True)
    freed_budget = Money(required=True)
    contact_emails = Emails(required=True)


class ReservePromotedSchema(EnvelopeSchema):
    event_class = c.ReservePromoted
    proposal_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    rank = fields.Integer(required=True)
    freed_by = fields.String(required=True)
    available_budget = Money(required=True)
    acronym = fields.String(required=True)
    contact_emails = Emails(required=True)


class TimeTargetBreachedSchema(EnvelopeSchema):
    event_class = c.TimeTargetBreached
    proposal_id = fields.String(required=True)
    measure = fields.String(required=True, validate=validate.OneOf(["tti", "ttg"]))
    days = fields.Integer(required=True)
    target_months = fields.Integer(required=True)
    limit_at = Instant(allow_none=True, load_default=None)


# ------------------------------------------------------------------ notifications
class NotificationDeliveredSchema(EnvelopeSchema):
    event_class = c.NotificationDelivered
    notification_id = fields.String(required=True)
    source_event_id = fields.String(required=True)
    source_event_type = fields.String(required=True)
    recipient = fields.Email(required=True)
    template = fields.String(required=True)
    message_id = fields.String(required=True)
    sent_at = Instant(required=True)
    proposal_id = fields.String(allow_none=True, load_default=None)
    after_deferral = fields.Boolean(load_default=False)


class NotificationFailedSchema(EnvelopeSchema):
    event_class = c.NotificationFailed
    notification_id = fields.String(required=True)
    source_event_id = fields.String(required=True)
    source_event_type = fields.String(required=True)
    recipient = fields.String(required=True)  # may be the address the server refused
    template = fields.String(required=True)
    reason = fields.String(required=True)
    proposal_id = fields.String(allow_none=True, load_default=None)
    after_deferral = fields.Boolean(load_default=False)


class NotificationDeferredSchema(EnvelopeSchema):
    event_class = c.NotificationDeferred
    notification_id = fields.String(required=True)
    source_event_id = fields.String(required=True)
    source_event_type = fields.String(required=True)
    recipient = fields.String(required=True)
    template = fields.String(required=True)
    reason = fields.String(required=True)
    proposal_id = fields.String(allow_none=True, load_default=None)


# ------------------------------------------------------------------ sign-in
class ApplicantSignInRequestedSchema(EnvelopeSchema):
    event_class = c.ApplicantSignInRequested
    email = fields.Email(required=True)
    next_url = fields.String(load_default="", validate=validate.Length(max=1000))


class EvaluatorSignInRequestedSchema(EnvelopeSchema):
    event_class = c.EvaluatorSignInRequested
    expert_id = fields.String(required=True)
    expert_name = fields.String(required=True)
    email = fields.Email(required=True)
    next_url = fields.String(load_default="", validate=validate.Length(max=1000))
