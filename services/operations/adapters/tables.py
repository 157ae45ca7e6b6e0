"""The operations service's own tables: an audit log of every event, and the projections
built from events only (never from another service's database)."""
import sqlalchemy as sa

from shared.db.types import Money, UtcDateTime

metadata = sa.MetaData()

# every event, as received: the audit log (its event id is the key: a replay adds nothing)
timeline = sa.Table(
    "timeline", metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("event_type", sa.String(80), nullable=False),
    sa.Column("producer", sa.String(40), nullable=False),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("correlation_id", sa.String(120), nullable=False),
    sa.Column("proposal_id", sa.String(40), nullable=True),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
)
sa.Index("ix_timeline_proposal", timeline.c.proposal_id, timeline.c.occurred_at)
sa.Index("ix_timeline_call", timeline.c.call_id, timeline.c.occurred_at)

# events received per type: a plain counter, so a second processing of one event would show
# (the crash-safety tests rely on this to prove the consumer's idempotency)
event_counts = sa.Table(
    "event_counts", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("event_type", sa.String(80), primary_key=True),
    sa.Column("count", sa.Integer(), nullable=False),
)

# one row per (proposal, event concerning it): what the event says of that proposal
# (domain.facts.Fact); a ranking or a deadline concerns many proposals
proposal_events = sa.Table(
    "proposal_events", metadata,
    sa.Column("proposal_id", sa.String(80), primary_key=True),
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("event_type", sa.String(80), nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("causation_id", sa.String(36), nullable=True),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("summary", sa.Text(), nullable=False),
)
sa.Index("ix_proposal_events_call", proposal_events.c.call_id, proposal_events.c.proposal_id)

# each proposal's derived view (domain.lifecycle.ProposalView), recomputed from its facts
proposals = sa.Table(
    "proposals", metadata,
    sa.Column("proposal_id", sa.String(80), primary_key=True),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("topic_id", sa.String(80), nullable=True),
    sa.Column("acronym", sa.String(200), nullable=True),
    sa.Column("state", sa.String(40), nullable=True),
    sa.Column("final_state", sa.String(40), nullable=True),
    sa.Column("list", sa.String(20), nullable=True),
    sa.Column("rank", sa.Integer(), nullable=True),
    # what the reserve rule reads for every ranked proposal of a topic (domain.reserve)
    sa.Column("promoted", sa.Boolean(), nullable=False),
    sa.Column("ranking_amount", Money(), nullable=True),
    sa.Column("signed_amount", Money(), nullable=True),
    sa.Column("view", sa.JSON(), nullable=False),  # state and final_state: the columns
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
sa.Index("ix_proposals_call_topic", proposals.c.call_id, proposals.c.topic_id)

# per call: the latest published version and every timetable stage reached; its row is
# also the lock that serialises projection updates of one call across replicas
calls = sa.Table(
    "calls", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("version", sa.Integer(), nullable=True),
    sa.Column("title", sa.String(400), nullable=True),
    sa.Column("call", sa.JSON(), nullable=True),
    sa.Column("reached", sa.JSON(), nullable=False),
)

# per topic: its latest ranking's budget line
topics = sa.Table(
    "topics", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("topic_id", sa.String(80), primary_key=True),
    sa.Column("budget", Money(), nullable=True),
    sa.Column("funded_total", Money(), nullable=True),
    sa.Column("ranking_event_id", sa.String(36), nullable=True),
    sa.Column("ranking_at", UtcDateTime(), nullable=True),
)

# per (expert, proposal): latest assignment and release instants (domain.loads)
assignments = sa.Table(
    "assignments", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("expert_id", sa.String(80), primary_key=True),
    sa.Column("proposal_id", sa.String(80), primary_key=True),
    sa.Column("topic_id", sa.String(80), nullable=True),
    sa.Column("expert_name", sa.String(200), nullable=False),
    sa.Column("expert_email", sa.String(320), nullable=False),
    sa.Column("assigned_at", UtcDateTime(), nullable=True),
    sa.Column("released_at", UtcDateTime(), nullable=True),
    sa.Column("report_final", sa.Boolean(), nullable=False),
)

# notifications per template and outcome (delivered, failed, deferred, recovered):
# counters, one increment per event
notification_counts = sa.Table(
    "notification_counts", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("template", sa.String(80), primary_key=True),
    sa.Column("outcome", sa.String(20), primary_key=True),
    sa.Column("count", sa.Integer(), nullable=False),
)
