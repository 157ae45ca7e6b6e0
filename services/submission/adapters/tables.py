"""The submission service's own tables (SQLAlchemy Core).

The initial migration (``migrations/versions/0001_initial.py``) creates these tables
explicitly; this module is what the code queries. Keep both in step.
"""
import sqlalchemy as sa

from shared.db.types import UtcDateTime

metadata = sa.MetaData()

#: every published version of every call, as loaded (wire form and source text)
calls = sa.Table(
    "calls", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),  # of the canonical wire form
    sa.Column("document", sa.JSON(), nullable=False),  # shared.calls.loader.call_to_wire
    sa.Column("source", sa.Text(), nullable=False),  # the YAML text as loaded
    sa.Column("changes", sa.JSON(), nullable=False),  # diff_calls against the previous one
    sa.Column("loaded_at", UtcDateTime(), nullable=False),
    sa.Column("loaded_by", sa.String(320), nullable=False),
)

#: one row per proposal: its state and the working copy (what the next submission sends)
proposals = sa.Table(
    "proposals", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("topic_id", sa.String(80), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("content", sa.JSON(), nullable=False),
    sa.Column("latest_version", sa.Integer(), nullable=False),  # 0: never submitted
    sa.Column("frozen_version", sa.Integer(), nullable=True),
    sa.Column("withdrawn_at", UtcDateTime(), nullable=True),
    sa.Column("withdraw_reason", sa.Text(), nullable=True),
    sa.Column("screening", sa.JSON(), nullable=True),
    sa.Column("screened_at", UtcDateTime(), nullable=True),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
sa.Index("ix_proposals_topic", proposals.c.call_id, proposals.c.topic_id, proposals.c.state)

#: who may see and change a proposal: the contact email of each participant (lower case)
proposal_contacts = sa.Table(
    "proposal_contacts", metadata,
    sa.Column("proposal_id", sa.String(40), sa.ForeignKey("proposals.id"), primary_key=True),
    sa.Column("email", sa.String(320), primary_key=True),
)
sa.Index("ix_proposal_contacts_email", proposal_contacts.c.email)

#: every submission received, immutable
proposal_versions = sa.Table(
    "proposal_versions", metadata,
    sa.Column("proposal_id", sa.String(40), sa.ForeignKey("proposals.id"), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("content", sa.JSON(), nullable=False),
    # the two fields of the content that make its project (``single_topic``), as written:
    # screening reads them for every frozen proposal of the call, and reading them out of
    # each version's JSON took seconds at 100,000. Not normalised here, so a better
    # ``project_key`` applies to stored versions too; NULL in versions stored before them
    # (the read then takes them from the content).
    sa.Column("coordinator_organisation_id", sa.Text(), nullable=True),
    sa.Column("acronym", sa.Text(), nullable=True),
)

#: the bytes of uploaded parts, addressed by their SHA-256 (kept for every version)
parts = sa.Table(
    "parts", metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.Column("stored_at", UtcDateTime(), nullable=False),
)

#: topics whose deadline closed, with the manifest published in deadline_closed
closed_topics = sa.Table(
    "closed_topics", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("topic_id", sa.String(80), primary_key=True),
    sa.Column("call_version", sa.Integer(), nullable=False),
    sa.Column("deadline", UtcDateTime(), nullable=False),
    sa.Column("closed_at", UtcDateTime(), nullable=False),
    sa.Column("manifest", sa.JSON(), nullable=False),
    sa.Column("manifest_hash", sa.String(64), nullable=False),
    sa.Column("screened_at", UtcDateTime(), nullable=True),  # every proposal screened
)

#: timetable milestones that fired (the primary key makes each fire once)
fired_milestones = sa.Table(
    "fired_milestones", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("milestone", sa.String(120), primary_key=True),
    sa.Column("stage", sa.String(120), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("call_version", sa.Integer(), nullable=False),
    sa.Column("fired_at", UtcDateTime(), nullable=False),
)

#: topics whose ranking evaluation published (withdrawal ends there)
rankings = sa.Table(
    "rankings", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("topic_id", sa.String(80), primary_key=True),
    sa.Column("published_at", UtcDateTime(), nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
)

#: partner search: one organisation's profile for one topic (one per owner and topic;
#: a withdrawn one is published again rather than duplicated)
partner_profiles = sa.Table(
    "partner_profiles", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("topic_id", sa.String(80), nullable=False),
    sa.Column("owner", sa.String(320), nullable=False),
    sa.Column("organisation_name", sa.String(300), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("entity_type", sa.String(80), nullable=False),
    sa.Column("experience", sa.Text(), nullable=False),
    sa.Column("looking_for", sa.Text(), nullable=False),
    sa.Column("areas", sa.JSON(), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("published_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("withdrawn_at", UtcDateTime(), nullable=True),
    sa.UniqueConstraint("call_id", "topic_id", "owner", name="uq_partner_profiles_owner"),
)
sa.Index("ix_partner_profiles_topic", partner_profiles.c.call_id, partner_profiles.c.topic_id,
         partner_profiles.c.state)

#: the areas of each profile, one row each (what the area filter joins on)
partner_profile_areas = sa.Table(
    "partner_profile_areas", metadata,
    sa.Column("profile_id", sa.String(40), sa.ForeignKey("partner_profiles.id"),
              primary_key=True),
    sa.Column("area", sa.String(80), primary_key=True),
)
sa.Index("ix_partner_profile_areas_area", partner_profile_areas.c.area)

#: questions on a topic and their answers (published ones are seen by every applicant)
questions = sa.Table(
    "questions", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("topic_id", sa.String(80), nullable=False),
    sa.Column("asked_by", sa.String(320), nullable=False),
    sa.Column("asked_by_operations", sa.Boolean(), nullable=False),
    sa.Column("question", sa.Text(), nullable=False),
    sa.Column("asked_at", UtcDateTime(), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("answer", sa.Text(), nullable=False),
    sa.Column("answered_by", sa.String(320), nullable=True),
    sa.Column("answered_at", UtcDateTime(), nullable=True),
    sa.Column("published_at", UtcDateTime(), nullable=True),
    sa.Column("revised_at", UtcDateTime(), nullable=True),
)
sa.Index("ix_questions_topic", questions.c.call_id, questions.c.topic_id, questions.c.state)
sa.Index("ix_questions_asker", questions.c.asked_by, questions.c.call_id)

#: which experts evaluation assigned to which proposal (from evaluator_assigned/released):
#: who may download a frozen proposal's parts from the evaluators' pages. A released pair
#: stays released (evaluation never assigns a released pair again), so the order in which
#: the two events arrive does not matter.
evaluator_access = sa.Table(
    "evaluator_access", metadata,
    sa.Column("proposal_id", sa.String(40), primary_key=True),
    sa.Column("email", sa.String(320), primary_key=True),
    sa.Column("expert_id", sa.String(80), nullable=False),
    sa.Column("released", sa.Boolean(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
