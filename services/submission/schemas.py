"""Request and response schemas of the submission HTTP API (marshmallow).

Requests are loaded with these schemas (a ValidationError becomes a 422 naming each
field path and rule); responses are built by the handlers as plain dicts and documented
here for the OpenAPI document (unit tests check the handlers' dicts against them).
Money travels as text with at most two decimals ("800000.00"); whole numbers are
accepted too, JSON numbers with a fraction are not (they may already have lost cents).
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from shared.events import schemas as events
from shared.web import BadRequest, validation_errors
from shared.identifiers import ORGANISATION_ID_MAX, organisation_id_problem

_CENT = Decimal("0.01")
_MAX_AMOUNT = Decimal("1000000000000.00")  # far above any call, and within every column
_ID = [validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
                       error="must be an identifier (letters, digits, '_', '-', '.')"),
       validate.Length(max=80, error="must be at most 80 characters")]
#: a part's base64 text: the configured part limit is checked when decoding
#: (handlers.proposals.decode_uploads); this bounds it whatever the configuration
_MAX_BASE64 = 4 * (64 * 1024 * 1024 // 3 + 1)


class MoneyField(fields.Field):
    """EUR amount: text such as "800000.00" or a whole number; >= 0, at most 2 decimals."""

    default_error_messages = {
        "invalid": 'must be an amount as text with at most two decimals, e.g. "800000.00"',
        "fraction_number": 'must be text such as "800000.50": a JSON number with a '
                           "fraction may already have lost cents",
        "places": "must have at most two decimals",
        "negative": "must not be negative",
        "too_large": f"must be at most {_MAX_AMOUNT:,}",
    }

    def _deserialize(self, value, attr, data, **kwargs) -> Decimal:
        if isinstance(value, float):
            raise self.make_error("fraction_number")
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise self.make_error("invalid")
        try:
            amount = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise self.make_error("invalid") from None
        if not amount.is_finite():
            raise self.make_error("invalid")
        if abs(amount) > _MAX_AMOUNT:
            raise self.make_error("too_large")
        if amount != amount.quantize(_CENT):
            raise self.make_error("places")
        if amount < 0:
            raise self.make_error("negative")
        return amount.quantize(_CENT)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else str(value)


class _Request(Schema):
    class Meta:
        unknown = RAISE  # a misspelt field is an error, not silently ignored
        ordered = True


def _no_nul(text: str) -> None:
    if "\x00" in text:
        raise ValidationError("must not contain NUL characters")


def _text(maximum: int, minimum: int = 1, **kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(
        min=minimum, max=maximum,
        error=f"must be {minimum} to {maximum} characters" if minimum else
        f"must be at most {maximum} characters"), _no_nul], **kwargs)


def _organisation_id(value: str) -> None:
    # a documented character set: look-alike ids must not slip past the conflict rules
    problem = organisation_id_problem(value)
    if problem:
        raise ValidationError(problem)


def _email(**kwargs) -> fields.Email:
    return fields.Email(validate=validate.Length(max=254, error="must be at most 254 "
                                                                "characters"), **kwargs)


class ParticipantSchema(_Request):
    legal_name = _text(300, required=True)
    organisation_id = fields.String(required=True, validate=[validate.Length(
        max=ORGANISATION_ID_MAX, error=f"must be at most {ORGANISATION_ID_MAX} characters"),
        _organisation_id])
    country = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z]{2}$", error="must be an ISO 3166-1 alpha-2 code in capitals, e.g. BE"))
    entity_type = _text(80, required=True)
    local_or_regional_authority = fields.Boolean(required=True)
    experienced_in_integration = fields.Boolean(required=True)
    contact_email = _email(required=True)


class PartUploadSchema(_Request):
    """A part sent inside a JSON body, its bytes in base64."""

    name = fields.String(required=True, validate=_ID)
    filename = _text(255, minimum=0, load_default="")
    content_base64 = fields.String(required=True, validate=validate.Length(max=_MAX_BASE64))


def _form_fields(create: bool) -> dict:
    """The form's fields: required (or defaulted) on creation, all optional in a patch
    (absent means unchanged)."""
    req = {"required": True} if create else {}

    def default(value):
        return {"load_default": value} if create else {}

    return {
        "acronym": _text(40, **req),
        "title": _text(500, **req),
        "abstract": _text(20_000, minimum=0, **default("")),
        "coordinator": fields.Nested(ParticipantSchema, **req),
        "co_applicants": fields.List(fields.Nested(ParticipantSchema),
                                     validate=validate.Length(max=100), **default(list)),
        "integration_areas": fields.List(fields.String(validate=_ID), **default(list)),
        "duration_months": fields.Integer(strict=True, validate=validate.Range(
            min=1, max=600, error="must be a whole number of months from 1 to 600"), **req),
        "total_eligible_costs": MoneyField(**req),
        "requested_grant": MoneyField(**req),
        "parts": fields.List(fields.Nested(PartUploadSchema), **default(list)),
    }


def _fixed(value) -> None:
    raise ValidationError("cannot be changed: create a new proposal for another call or "
                          "topic (and withdraw this one)")


ProposalCreateSchema = _Request.from_dict({
    "call_id": fields.String(required=True, validate=_ID),
    "topic_id": fields.String(required=True, validate=_ID),
    **_form_fields(create=True),
}, name="ProposalCreateSchema")
ProposalCreateSchema.__doc__ = "A new draft: the form, and optionally its parts."

ProposalPatchSchema = _Request.from_dict({
    "call_id": fields.Raw(validate=_fixed),
    "topic_id": fields.Raw(validate=_fixed),
    **_form_fields(create=False),
}, name="ProposalPatchSchema")
ProposalPatchSchema.__doc__ = ("Fields to change (any subset); `parts` given here are "
                               "added or replaced by name.")


class WithdrawSchema(_Request):
    reason = _text(2000, minimum=0, load_default="")


class CallLoadSchema(_Request):
    """POST /calls with a JSON body; the YAML text may also be sent as the raw body."""

    yaml = fields.String(required=True, validate=[
        validate.Length(min=1, error="is empty"),
        validate.Length(max=1_000_000, error="must be at most 1,000,000 characters")])


# ----------------------------------------------------------------------- responses
class ReceiptSchema(events.ManifestEntrySchema):
    """What (re)submission answers: exactly the entry the closing manifest will list for
    the proposal if this version is its last one before the deadline (received_at is ISO
    8601 UTC with microseconds)."""


class PartInfoSchema(Schema):
    name = fields.String(required=True)
    filename = fields.String(required=True)
    sha256 = fields.String(required=True)
    size = fields.Integer(required=True)


class VersionInfoSchema(events.ManifestEntrySchema):
    class Meta:
        exclude = ("proposal_id",)


class RuleOutcomeSchema(events.RuleOutcomeSchema):
    severity = fields.String(required=True)


class ScreeningSchema(Schema):
    proposal_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    version = fields.Integer(required=True)
    admissible = fields.Boolean(required=True)
    eligible = fields.Boolean(required=True)
    failed_rules = fields.List(fields.Nested(RuleOutcomeSchema), required=True)
    warnings = fields.List(fields.Nested(RuleOutcomeSchema), required=True)


class ContentSchema(events.ProposalSnapshotSchema):
    """The form as stored: the snapshot other services get, with the coordinator and
    co-applicants apart, and the parts."""

    class Meta:
        exclude = ("participants",)

    coordinator = fields.Nested(ParticipantSchema, required=True)
    co_applicants = fields.List(fields.Nested(ParticipantSchema), required=True)
    parts = fields.List(fields.Nested(PartInfoSchema), required=True)


class ProposalSchema(ContentSchema):
    id = fields.String(required=True)
    call_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(
        ["draft", "submitted", "withdrawn", "frozen"]))
    contact_emails = fields.List(fields.String(), required=True)
    deadline = fields.String(required=True)
    versions = fields.List(fields.Nested(VersionInfoSchema), required=True)
    has_unsubmitted_changes = fields.Boolean(required=True)
    frozen_version = fields.Integer(allow_none=True, required=True)
    withdrawn_at = fields.String(allow_none=True, required=True)
    screening = fields.Nested(ScreeningSchema, allow_none=True, required=True)
    created_by = fields.String(required=True)


class ProposalSummarySchema(Schema):
    id = fields.String(required=True)
    call_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    state = fields.String(required=True)
    acronym = fields.String(required=True)
    title = fields.String(required=True)
    latest_version = fields.Integer(required=True)
    frozen_version = fields.Integer(allow_none=True, required=True)
    updated_at = fields.String(required=True)


class VersionSchema(ContentSchema, ReceiptSchema):
    """One submitted version: its receipt and its content as received."""


class CallLoadedSchema(Schema):
    call_id = fields.String(required=True)
    version = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["published", "unchanged"]))
    content_hash = fields.String(required=True)
    changes = fields.List(fields.String(), required=True)
    notified = fields.Integer(required=True)


class TopicInfoSchema(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    budget = fields.String(required=True)
    closed = fields.Boolean(required=True)
    manifest_hash = fields.String(allow_none=True, required=True)


class CallSummarySchema(Schema):
    id = fields.String(required=True)
    call_id = fields.String(required=True)  # the same as id
    version = fields.Integer(required=True)
    title = fields.String(required=True)
    timezone = fields.String(required=True)
    deadline_utc = fields.String(required=True)
    deadline_local = fields.String(required=True)
    topics = fields.List(fields.Nested(TopicInfoSchema), required=True)


class CallVersionInfoSchema(Schema):
    version = fields.Integer(required=True)
    title = fields.String(required=True)
    content_hash = fields.String(required=True)
    changes = fields.List(fields.String(), required=True)
    loaded_at = fields.String(required=True)
    loaded_by = fields.String(required=True)


class CallSchema(CallSummarySchema):
    content_hash = fields.String(required=True)
    call = fields.Dict(required=True)  # the wire form (calls/README.md, "Wire form")
    versions = fields.List(fields.Nested(CallVersionInfoSchema), required=True)


class MilestoneSchema(Schema):
    key = fields.String(required=True)
    label = fields.String(required=True)
    stage = fields.String(required=True)
    at = fields.String(required=True)  # UTC
    at_local = fields.String(required=True)
    due = fields.Boolean(required=True)
    fired = fields.Boolean(required=True)
    fired_at = fields.String(allow_none=True, required=True)
    fired_with_version = fields.Integer(allow_none=True, required=True)


class TimetableSchema(Schema):
    call_id = fields.String(required=True)
    call_version = fields.Integer(required=True)
    timezone = fields.String(required=True)
    now = fields.String(required=True)
    current_stage = fields.String(allow_none=True, required=True)
    milestones = fields.List(fields.Nested(MilestoneSchema), required=True)


class ManifestSchema(Schema):
    call_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    call_version = fields.Integer(required=True)
    deadline = fields.String(required=True)
    closed_at = fields.String(required=True)
    manifest = fields.List(fields.Nested(events.ManifestEntrySchema), required=True)
    manifest_hash = fields.String(required=True)
    screened = fields.Boolean(required=True)


class FiredSchema(Schema):
    call_id = fields.String(required=True)
    milestone = fields.String(required=True)
    at = fields.String(required=True)
    fired_at = fields.String(required=True)


class PendingSchema(Schema):
    """A deadline a tick left half-done: the next tick goes on from here."""
    call_id = fields.String(required=True)
    milestone = fields.String(required=True)
    topics = fields.Integer(required=True)
    closed = fields.Integer(required=True)
    screened = fields.Integer(required=True)


class TickSchema(Schema):
    now = fields.String(required=True)
    fired = fields.List(fields.Nested(FiredSchema), required=True)
    pending = fields.List(fields.Nested(PendingSchema), required=True)


# ----------------------------------------------------------------------- partner search, Q&A
_COUNTRY = validate.Regexp(r"^[A-Z]{2}$",
                           error="must be an ISO 3166-1 alpha-2 code in capitals, e.g. BE")
_AREA_ID = fields.String(validate=_ID)
MAX_SEARCH_TEXT = 200


class PartnerProfileBodySchema(_Request):
    """A partner profile as its organisation publishes or edits it (the whole profile)."""

    organisation_name = _text(300, required=True)
    country = fields.String(required=True, validate=_COUNTRY)
    entity_type = fields.String(required=True, validate=_ID)
    experience = _text(4000, required=True)
    areas = fields.List(_AREA_ID, load_default=list,
                        validate=validate.Length(max=20, error="at most 20 areas"))
    looking_for = _text(4000, required=True)


class QuestionAskSchema(_Request):
    question = _text(4000, required=True)


class AnswerSchema(_Request):
    """Operations' answer; ``question`` rephrases the question (e.g. without names)."""

    answer = _text(20_000, required=True)
    question = _text(4000)


class _Query(Schema):
    class Meta:
        unknown = RAISE


def _page_fields() -> dict:
    return {
        "limit": fields.Integer(load_default=20, validate=validate.Range(
            min=1, max=100, error="must be a whole number from 1 to 100"),
            metadata={"description": "page size, 1 to 100 (default 20)"}),
        "offset": fields.Integer(load_default=0, validate=validate.Range(
            min=0, max=100_000, error="must be a whole number from 0 to 100000"),
            metadata={"description": "entries to skip"}),
    }


PartnerSearchQuery = _Query.from_dict({
    "country": fields.String(validate=_COUNTRY, metadata={"description": "ISO country code"}),
    "entity_type": fields.String(validate=_ID,
                                 metadata={"description": "an entity type of the call"}),
    "area": fields.String(validate=_ID,
                          metadata={"description": "an integration area id"}),
    "q": fields.String(validate=[validate.Length(
        max=MAX_SEARCH_TEXT, error=f"must be at most {MAX_SEARCH_TEXT} characters"), _no_nul],
        metadata={"description": "words to find in the name, experience or what they "
                                 "look for (each word must appear)"}),
    **_page_fields(),
}, name="PartnerSearchQuery")

QuestionListQuery = _Query.from_dict({
    "state": fields.String(validate=validate.OneOf(["asked", "published"]),
                           metadata={"description": "asked|published"}),
    **_page_fields(),
}, name="QuestionListQuery")


class ProposalListQuery(_Query):
    """``GET /proposals`` query arguments: filters, and a page by position or by offset."""

    call_id = fields.String(validate=_ID)
    topic_id = fields.String(validate=_ID)
    state = fields.String(validate=validate.OneOf(
        ["draft", "submitted", "withdrawn", "frozen"],
        error="must be one of draft, submitted, withdrawn, frozen"),
        metadata={"description": "draft|submitted|withdrawn|frozen"})
    limit = fields.Integer(load_default=100, validate=validate.Range(
        min=1, max=1000, error="must be a whole number from 1 to 1000"),
        metadata={"description": "page size, 1 to 1000 (default 100)"})
    offset = fields.Integer(load_default=0, validate=validate.Range(
        min=0, max=10_000_000, error="must be a whole number from 0 to 10000000"),
        metadata={"description": "entries to skip"})
    #: the last proposal of the page before: the next page starts after it however deep
    #: (an offset reads every row before it again: 100 pages of a 100,000 call read
    #: five million)
    after = fields.String(validate=_ID, metadata={
        "description": "the id of the last proposal of the page before"})

    @validates_schema
    def _one_way_to_page(self, data, **kwargs):
        if "after" in data and data.get("offset"):
            raise ValidationError("cannot be combined with an offset", "after")


def load_query(schema: type[Schema], args) -> dict:
    """Query arguments loaded with ``schema``, or a 400 (``bad_query``) naming each."""
    try:
        return schema().load(args.to_dict())
    except ValidationError as exc:
        errors = validation_errors(exc)
        raise BadRequest("; ".join(f"query argument {e['field']}: {e['rule']}"
                                   for e in errors), errors=errors, code="bad_query") from None


def query_doc(schema: type[Schema]) -> tuple[tuple[str, str, str], ...]:
    """The (name, type, description) of each query argument, for ``@doc(query=...)``."""
    return tuple((name, "integer" if isinstance(field, fields.Integer) else "string",
                  (field.metadata or {}).get("description", ""))
                 for name, field in schema().fields.items())


class PartnerProfileSchema(Schema):
    id = fields.String(required=True)
    call_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    organisation_name = fields.String(required=True)
    country = fields.String(required=True)
    entity_type = fields.String(required=True)
    experience = fields.String(required=True)
    areas = fields.List(fields.String(), required=True)
    looking_for = fields.String(required=True)
    contact_email = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(["published", "withdrawn"]))
    published_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    withdrawn_at = fields.String(allow_none=True, required=True)
    mine = fields.Boolean(required=True)


class _TopicPageSchema(Schema):
    """One page of a topic's entries: how many there are in all, and which page."""

    call_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class PartnerSearchSchema(_TopicPageSchema):
    profiles = fields.List(fields.Nested(PartnerProfileSchema), required=True)


class QuestionSchema(Schema):
    """A question; ``answer`` is null for applicants until published; ``asked_by``,
    ``answered_by`` and ``answered_at`` are given to operations only."""

    id = fields.String(required=True)
    call_id = fields.String(required=True)
    topic_id = fields.String(required=True)
    question = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(["asked", "published"]))
    asked_at = fields.String(required=True)
    answer = fields.String(allow_none=True, required=True)
    published_at = fields.String(allow_none=True, required=True)
    revised_at = fields.String(allow_none=True, required=True)
    mine = fields.Boolean(required=True)
    asked_by = fields.String()
    answered_by = fields.String(allow_none=True)
    answered_at = fields.String(allow_none=True)


class QuestionListSchema(_TopicPageSchema):
    questions = fields.List(fields.Nested(QuestionSchema), required=True)


class PrecheckSchema(ScreeningSchema):
    """The screening the working copy would get if received now (``GET
    /proposals/<id>/precheck``): each failed rule with its message and values."""

    checked_at = fields.String(required=True)
    passed = fields.Boolean(required=True)
