"""The notifications service's own tables (created by migrations/versions/0001_initial.py,
0002_delivery_attempts.py).

- ``deliveries``: the delivery log, one row per message, unique per Notification key
  (``dedupe_id``, recipient, template) so a message is queued once whatever re-derives it;
- ``delivery_attempts``: every SMTP attempt of a delivery (when, which claim, outcome), so
  a message sent again after an interrupted attempt shows as such;
- ``calls``: this service's copy of each call (the wire form of its latest version);
- ``letter_facts``: what is known of each proposal's outcome, for its result letter;
- ``letter_releases``: calls whose information-to-applicants milestone was reached;
- ``assignments`` / ``assignment_ends``: evaluators' assignments, for reminders;
- ``seen_events``: every event seen, for the daily digest; ``digests``: days digested.
"""
import sqlalchemy as sa

from shared.db.types import UtcDateTime

metadata = sa.MetaData()

deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("id", sa.String(36), primary_key=True),  # uuid5 of the key (uuid4 for resends)
    sa.Column("dedupe_id", sa.String(200), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("template", sa.String(80), nullable=False),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("source_event_id", sa.String(200), nullable=False),
    sa.Column("source_event_type", sa.String(80), nullable=False),
    sa.Column("proposal_id", sa.String(40), nullable=True),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("context", sa.JSON(), nullable=False),
    sa.Column("subject", sa.Text(), nullable=True),  # None when the template failed
    sa.Column("body", sa.Text(), nullable=True),
    sa.Column("message_id", sa.String(200), nullable=False),
    # queued -> sending -> sent | failed; sending with an expired lease is sent again
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=False),  # wall clock
    sa.Column("lease_until", UtcDateTime(), nullable=True),  # wall clock
    sa.Column("claim_token", sa.String(36), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),  # service clock
    sa.Column("sent_at", UtcDateTime(), nullable=True),  # service clock
    sa.Column("failed_at", UtcDateTime(), nullable=True),  # service clock
    sa.Column("resend_of", sa.String(36), nullable=True),
    sa.Column("requested_by", sa.String(320), nullable=True),
    sa.Column("note", sa.Text(), nullable=True),
    # wall clock; set at the first deferral (its notification_deferred event went out)
    sa.Column("deferred_since", UtcDateTime(), nullable=True),
    # exactly one message per Notification key, whatever the redeliveries
    sa.UniqueConstraint("dedupe_id", "recipient", "template", name="uq_delivery_key"),
)
sa.Index("ix_deliveries_due", deliveries.c.status, deliveries.c.next_attempt_at)
# the delivery timer's claim reads these two (migration 0006 says why they are partial)
_QUEUED, _SENDING = sa.text("status = 'queued'"), sa.text("status = 'sending'")
sa.Index("ix_deliveries_queued", deliveries.c.next_attempt_at, deliveries.c.id,
         postgresql_where=_QUEUED, sqlite_where=_QUEUED)
sa.Index("ix_deliveries_sending", deliveries.c.lease_until,
         postgresql_where=_SENDING, sqlite_where=_SENDING)
sa.Index("ix_deliveries_listed", deliveries.c.created_at, deliveries.c.id)
sa.Index("ix_deliveries_proposal", deliveries.c.proposal_id)
sa.Index("ix_deliveries_recipient", deliveries.c.recipient)
sa.Index("ix_deliveries_resend_of", deliveries.c.resend_of)

# one row per attempt, written when the attempt starts (outcome None while it runs): an
# attempt whose process died keeps None until the next claim marks it "interrupted"
delivery_attempts = sa.Table(
    "delivery_attempts", metadata,
    sa.Column("delivery_id", sa.String(36), primary_key=True),
    sa.Column("attempt", sa.Integer(), primary_key=True),
    sa.Column("claim_token", sa.String(36), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),  # wall clock
    sa.Column("ended_at", UtcDateTime(), nullable=True),  # wall clock
    # sent | deferred | failed | interrupted (may have reached the server); None: running
    sa.Column("outcome", sa.String(12), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    # the attempt before it was interrupted: this one may have sent the message again
    sa.Column("after_interruption", sa.Boolean(), nullable=False),
)
sa.Index("ix_delivery_attempts_open", delivery_attempts.c.delivery_id,
         delivery_attempts.c.outcome)

calls = sa.Table(
    "calls", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("document", sa.JSON(), nullable=False),  # shared.calls.loader.call_to_wire form
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

letter_facts = sa.Table(
    "letter_facts", metadata,
    sa.Column("proposal_id", sa.String(40), primary_key=True),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("facts", sa.JSON(), nullable=False),  # LetterFacts.as_record()
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
sa.Index("ix_letter_facts_call", letter_facts.c.call_id)

letter_releases = sa.Table(
    "letter_releases", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("released_at", UtcDateTime(), nullable=False),
)

assignments = sa.Table(
    "assignments", metadata,
    sa.Column("assigned_event_id", sa.String(36), primary_key=True),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("proposal_id", sa.String(40), nullable=False),
    sa.Column("expert_id", sa.String(80), nullable=False),
    sa.Column("assigned_at", UtcDateTime(), nullable=False),
    sa.Column("due_at", UtcDateTime(), nullable=False),
    sa.Column("remind_from", UtcDateTime(), nullable=True),  # next reminder may be due; None: no more
    sa.Column("closed", sa.Boolean(), nullable=False),  # released or final report in
    sa.Column("reminded_days", sa.JSON(), nullable=False),
    sa.Column("record", sa.JSON(), nullable=False),  # what Assignment needs besides the above
)
sa.Index("ix_assignments_open", assignments.c.closed, assignments.c.remind_from)
sa.Index("ix_assignments_expert", assignments.c.proposal_id, assignments.c.expert_id)

# releases and final reports, kept so one arriving before its assignment still closes it
assignment_ends = sa.Table(
    "assignment_ends", metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("proposal_id", sa.String(40), nullable=False),
    sa.Column("expert_id", sa.String(80), nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
)
sa.Index("ix_assignment_ends_expert", assignment_ends.c.proposal_id, assignment_ends.c.expert_id)

seen_events = sa.Table(
    "seen_events", metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("event_type", sa.String(80), nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
)
sa.Index("ix_seen_events_call", seen_events.c.call_id, seen_events.c.occurred_at)

digests = sa.Table(
    "digests", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("made_at", UtcDateTime(), nullable=False),
)
