"""The grants service's own tables (architecture rule 9: no other service reads them).

- ``calls``: this service's copy of each call (latest version's wire document);
- ``stages_reached``: ``timetable_stage_reached`` events received, per call and stage;
- ``topic_ledgers``: one per ranked topic: the ranking as received and the reserve chain's
  state (what is committed, released, promoted, dropped; whether the main list was invited);
- ``grant_files`` (+ ``grant_contacts``, ``payment_orders``): the grant preparation files;
- ``proposal_clocks``: the facts time to inform / time to grant are computed from.

Money columns are :class:`shared.db.types.Money`; JSON columns hold money as text.
"""
import sqlalchemy as sa

from shared.db.types import Money, UtcDateTime

metadata = sa.MetaData()

calls = sa.Table(
    "calls", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("document", sa.JSON(), nullable=False),  # call_to_wire form
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

stages_reached = sa.Table(
    "stages_reached", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("stage", sa.String(80), primary_key=True),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
)

topic_ledgers = sa.Table(
    "topic_ledgers", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("topic_id", sa.String(80), primary_key=True),
    sa.Column("ranking_event_id", sa.String(36), nullable=False),
    sa.Column("ranked_at", UtcDateTime(), nullable=False),
    sa.Column("ranking", sa.JSON(), nullable=False),  # ranking_published wire payload
    # the ledger opens once the call is known (the ranking may arrive first)
    sa.Column("opened", sa.Boolean(), nullable=False, default=False),
    sa.Column("amounts", sa.JSON(), nullable=True),  # proposal id -> maximum grant
    sa.Column("committed", sa.JSON(), nullable=True),
    sa.Column("released", sa.JSON(), nullable=True),
    sa.Column("promoted", sa.JSON(), nullable=True),  # proposal ids, promotion order
    sa.Column("dropped", sa.JSON(), nullable=True),
    sa.Column("main_invited", sa.Boolean(), nullable=False, default=False),
    sa.Column("invited_at", UtcDateTime(), nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

grant_files = sa.Table(
    "grant_files", metadata,
    sa.Column("grant_id", sa.String(60), primary_key=True),
    sa.Column("proposal_id", sa.String(40), nullable=False, unique=True),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("topic_id", sa.String(80), nullable=False),
    sa.Column("acronym", sa.String(120), nullable=False),
    sa.Column("rank", sa.Integer(), nullable=False),
    sa.Column("requested_grant", Money(), nullable=False),
    sa.Column("total_eligible_costs", Money(), nullable=False),
    sa.Column("max_grant", Money(), nullable=False),
    sa.Column("prefinancing_rate", sa.String(20), nullable=False),  # exact Decimal text
    sa.Column("duration_months", sa.Integer(), nullable=False),
    sa.Column("start_date", sa.Date(), nullable=False),
    sa.Column("beneficiaries", sa.JSON(), nullable=False),
    sa.Column("coordinator_email", sa.String(320), nullable=False),
    sa.Column("contact_emails", sa.JSON(), nullable=False),
    sa.Column("authority_email", sa.String(320), nullable=False),
    sa.Column("invited_at", UtcDateTime(), nullable=False),
    sa.Column("preparation_deadline", UtcDateTime(), nullable=False),
    sa.Column("signature_deadline", UtcDateTime(), nullable=False),
    sa.Column("promoted_from_reserve", sa.Boolean(), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("data_confirmed_at", UtcDateTime(), nullable=True),
    sa.Column("coordinator_signed_at", UtcDateTime(), nullable=True),
    sa.Column("authority_signed_at", UtcDateTime(), nullable=True),
    sa.Column("ended_at", UtcDateTime(), nullable=True),
    sa.Column("end_reason", sa.String(40), nullable=True),
    sa.Column("decline_note", sa.Text(), nullable=True),  # the coordinator's own words
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
sa.Index("ix_grant_files_topic_state", grant_files.c.topic_id, grant_files.c.state)
sa.Index("ix_grant_files_state", grant_files.c.state)

# every address that may read a file (coordinator and proposal contacts), for /grants/mine
grant_contacts = sa.Table(
    "grant_contacts", metadata,
    sa.Column("grant_id", sa.String(60), primary_key=True),
    sa.Column("email", sa.String(320), primary_key=True),
)
sa.Index("ix_grant_contacts_email", grant_contacts.c.email)

payment_orders = sa.Table(
    "payment_orders", metadata,
    sa.Column("grant_id", sa.String(60), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),  # prefinancing
    sa.Column("amount", Money(), nullable=False),
    sa.Column("ordered_at", UtcDateTime(), nullable=False),
)

proposal_clocks = sa.Table(
    "proposal_clocks", metadata,
    sa.Column("proposal_id", sa.String(40), primary_key=True),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("informed_at", UtcDateTime(), nullable=True),
    sa.Column("signed_at", UtcDateTime(), nullable=True),
    sa.Column("withdrawn", sa.Boolean(), nullable=False, default=False),
    sa.Column("grant_expected", sa.Boolean(), nullable=False, default=False),
    sa.Column("tti_breached", sa.Boolean(), nullable=False, default=False),
    sa.Column("ttg_breached", sa.Boolean(), nullable=False, default=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
sa.Index("ix_proposal_clocks_call", proposal_clocks.c.call_id)
