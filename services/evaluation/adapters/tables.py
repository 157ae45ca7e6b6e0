"""The evaluation service's own tables (SQLAlchemy Core).

Decimals inside JSON columns are text (``"27.5"``), instants are aware UTC columns. The
migration ``0001_initial`` spells the same tables out; keep both in step.
"""
import sqlalchemy as sa

from shared.db.types import UtcDateTime

metadata = sa.MetaData()

# our copy of each call (the latest version received in call_published)
calls = sa.Table(
    "calls", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("document", sa.JSON(), nullable=False),  # shared.calls.loader wire form
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# timetable milestones reached (timetable_stage_reached), e.g. evaluation_start
stages = sa.Table(
    "stages", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("stage", sa.String(60), primary_key=True),
    sa.Column("at", UtcDateTime(), nullable=False),
)

# one row per (call, topic) once something is known of it
topics = sa.Table(
    "topics", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("topic_id", sa.String(80), primary_key=True),
    sa.Column("closed_at", UtcDateTime(), nullable=True),  # deadline_closed received
    sa.Column("manifest_hash", sa.String(80), nullable=True),
    # pending | assigned | infeasible | error
    sa.Column("assignment_status", sa.String(20), nullable=False, server_default="pending"),
    sa.Column("assignment_message", sa.JSON(), nullable=True),  # diagnosis lines
    sa.Column("assignment_attempt_revision", sa.Integer(), nullable=True),
    sa.Column("assigned_at", UtcDateTime(), nullable=True),
    sa.Column("ranked_at", UtcDateTime(), nullable=True),
    sa.Column("ranking", sa.JSON(), nullable=True),  # ranking_published payload
)

# every proposal we heard of: from the manifest, a screening, or a withdrawal
proposals = sa.Table(
    "proposals", metadata,
    sa.Column("proposal_id", sa.String(40), primary_key=True),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("topic_id", sa.String(80), nullable=False),
    sa.Column("in_manifest", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("version", sa.Integer(), nullable=True),
    sa.Column("received_at", UtcDateTime(), nullable=True),  # of the frozen version
    sa.Column("screened", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("eligible", sa.Boolean(), nullable=True),  # admissible and eligible
    sa.Column("snapshot", sa.JSON(), nullable=True),  # ProposalSnapshotSchema
    sa.Column("contact_emails", sa.JSON(), nullable=True),
    sa.Column("withdrawn_at", UtcDateTime(), nullable=True),
    # evaluators wanted: the call's number, plus one per extra evaluator for a spread
    sa.Column("target_evaluators", sa.Integer(), nullable=True),
    sa.Column("repair_attempt_revision", sa.Integer(), nullable=True),
    sa.Column("repair_message", sa.JSON(), nullable=True),
    sa.Column("rapporteur_id", sa.String(80), nullable=True),
    sa.Column("consensus_note", sa.JSON(), nullable=True),  # {text, recorded_by, recorded_at}
    sa.Column("consensus", sa.JSON(), nullable=True),  # the completed ConsensusResult
    sa.Column("completed_at", UtcDateTime(), nullable=True),
    # where ranking placed it: {list, rank, reserve_position}
    sa.Column("outcome", sa.JSON(), nullable=True),
)
sa.Index("ix_proposals_topic", proposals.c.call_id, proposals.c.topic_id)
# the proposals still in evaluation (migration 0005): whether a topic may be ranked
sa.Index("ix_proposals_open", proposals.c.call_id, proposals.c.topic_id,
         postgresql_where=proposals.c.completed_at.is_(None),
         sqlite_where=proposals.c.completed_at.is_(None))

experts = sa.Table(
    "experts", metadata,
    sa.Column("id", sa.String(80), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("organisation_id", sa.String(120), nullable=False),
    sa.Column("expertise_areas", sa.JSON(), nullable=False),
    sa.Column("keywords", sa.JSON(), nullable=False),
    sa.Column("languages", sa.JSON(), nullable=False),
    sa.Column("max_load", sa.Integer(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# one row per (proposal, expert) ever paired; status active or released
assignments = sa.Table(
    "assignments", metadata,
    sa.Column("proposal_id", sa.String(40), primary_key=True),
    sa.Column("expert_id", sa.String(80), primary_key=True),
    sa.Column("topic_id", sa.String(80), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # active | released
    sa.Column("reason", sa.String(20), nullable=False),  # initial | repair | extra | override
    sa.Column("assigned_at", UtcDateTime(), nullable=False),
    sa.Column("due_at", UtcDateTime(), nullable=False),
    sa.Column("released_at", UtcDateTime(), nullable=True),
    # conflict_declared | declined | proposal_withdrawn | deactivated | operations
    sa.Column("release_reason", sa.String(30), nullable=True),
    sa.Column("note", sa.Text(), nullable=True),  # an operator's reason for an override
)
sa.Index("ix_assignments_expert", assignments.c.expert_id, assignments.c.status)

# declared conflicts of interest (rules are evaluated, never stored)
declarations = sa.Table(
    "declarations", metadata,
    sa.Column("expert_id", sa.String(80), primary_key=True),
    sa.Column("proposal_id", sa.String(40), primary_key=True),
    sa.Column("source", sa.String(12), nullable=False),  # expert | operations
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("declared_by", sa.String(320), nullable=False),
    sa.Column("declared_at", UtcDateTime(), nullable=False),
)

reports = sa.Table(
    "reports", metadata,
    sa.Column("proposal_id", sa.String(40), primary_key=True),
    sa.Column("expert_id", sa.String(80), primary_key=True),
    sa.Column("kind", sa.String(12), primary_key=True),  # individual | consensus
    sa.Column("scores", sa.JSON(), nullable=False),
    sa.Column("comments", sa.JSON(), nullable=False),
    sa.Column("final", sa.Boolean(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("finalised_at", UtcDateTime(), nullable=True),
)

# optimistic concurrency for assignment: bumped by every change a solve depends on
# (experts, assignments, declarations); a solve whose snapshot is stale is not written
pool_revision = sa.Table(
    "pool_revision", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("value", sa.Integer(), nullable=False),
)

# what each assignment run did, for operations
assignment_runs = sa.Table(
    "assignment_runs", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),  # initial | repair | extra
    sa.Column("subjects", sa.JSON(), nullable=False),  # topic ids or proposal ids
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("assigned", sa.Integer(), nullable=False),
    sa.Column("diagnosis", sa.JSON(), nullable=False),
    sa.Column("objective", sa.BigInteger(), nullable=True),
    sa.Column("gap", sa.Float(), nullable=True),
    sa.Column("stats", sa.JSON(), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("triggered_by", sa.String(320), nullable=False),
)
sa.Index("ix_assignment_runs_started", assignment_runs.c.started_at)

# affinity scores imported by operations (one per pair; a later import replaces it)
imported_affinities = sa.Table(
    "imported_affinities", metadata,
    sa.Column("proposal_id", sa.String(40), primary_key=True),
    sa.Column("expert_id", sa.String(80), primary_key=True),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("imported_at", UtcDateTime(), nullable=False),
    sa.Column("imported_by", sa.String(320), nullable=False),
)
