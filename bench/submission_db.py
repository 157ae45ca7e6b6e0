"""A throwaway submission database with a published call, for the benchmarks that copy
one submitted proposal in SQL into a large call (``rivals_read``, ``deadline_screening``):
the service's own migrations and handlers make the call and the proposal copied."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from datetime import timedelta

PG_URL = os.environ.get("GRANTFLOW_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")


class Clock:
    def __init__(self, at):
        self.at = at

    def now(self):
        return self.at


@contextmanager
def submission_database(name: str):
    """``(engine, uow)`` on a new database ``gf_<name>_<random>``, dropped at the end."""
    from sqlalchemy.orm import sessionmaker

    from shared.db.engine import create_service_engine, drop_postgres_databases
    from shared.db.migrations import upgrade_to_head
    from shared.db.uow import UnitOfWork

    database = f"gf_{name}_{uuid.uuid4().hex[:8]}"
    engine = create_service_engine(f"{PG_URL}/{database}")
    try:
        upgrade_to_head(engine, "services.submission:migrations")
        yield engine, UnitOfWork(sessionmaker(engine, expire_on_commit=False), "submission")
    finally:
        engine.dispose()
        drop_postgres_databases(PG_URL, database)


def publish(uow, scenario):
    """The scenario's call published an hour before its publication; the parsed call."""
    from services.submission import handlers
    from services.submission.handlers.calls import parse_call
    from shared.auth import Principal

    call = parse_call(scenario.call_yaml)
    publication = call.stage("publication").starts_at
    status, answer = handlers.load_call(uow, Principal("ops@bench.example", "operations"),
                                        scenario.call_yaml, publication - timedelta(hours=1))
    assert status == 201, (status, answer)
    return call


def submit(uow, call, spec, clock) -> str:
    """``spec`` (a scenario proposal) created and submitted by its contact; its id."""
    from services.submission import handlers
    from services.submission.schemas import ProposalCreateSchema
    from shared.auth import Principal

    applicant = Principal(spec.contact_email, "applicant")
    body = ProposalCreateSchema().load({
        "call_id": call.id, **spec.content,
        "parts": [{"name": name, "filename": f"{name}.txt", "content_base64": "cGFydA=="}
                  for name in spec.parts]})
    proposal_id = handlers.create(uow, applicant, body, clock.now())["id"]
    handlers.submit(uow, applicant, proposal_id, clock)
    return proposal_id


#: ``n`` copies of one proposal and its version 1, ids ``prefix`` and a number, each with
#: its own coordinator organisation and acronym, in its working copy and its version alike
#: (the working copy is the version submitted, as for nearly every proposal at a
#: deadline); the seed's state, or frozen at version 1
_COPY_PROPOSALS = """
INSERT INTO proposals (id, call_id, topic_id, state, content, latest_version,
                       frozen_version, created_by, created_at, updated_at)
SELECT :prefix || lpad(n::text, 10, '0'), call_id, topic_id,
       CASE WHEN :frozen THEN 'frozen' ELSE state END,
       jsonb_set(jsonb_set(content::jsonb, '{acronym}', to_jsonb(:prefix || n)),
                 '{coordinator,organisation_id}', to_jsonb('ORG-' || :prefix || n))::json,
       1, CASE WHEN :frozen THEN 1 END, created_by, created_at, updated_at
FROM proposals, generate_series(1, :n) AS n WHERE id = :seed
"""
#: ``columns``/``values``: the version's project columns, where the schema has them (a
#: checkout from before migration submission_version_project has not)
_COPY_VERSIONS = """
INSERT INTO proposal_versions (proposal_id, version, content_hash, received_at,
                               content{columns})
SELECT :prefix || lpad(n::text, 10, '0'), 1, content_hash, received_at,
       jsonb_set(jsonb_set(content::jsonb, '{{acronym}}', to_jsonb(:prefix || n)),
                 '{{coordinator,organisation_id}}', to_jsonb('ORG-' || :prefix || n))::json
       {values}
FROM proposal_versions, generate_series(1, :n) AS n WHERE proposal_id = :seed
"""


def copy_proposal(connection, seed: str, n: int, prefix: str, *, frozen: bool) -> None:
    """``n`` copies of proposal ``seed`` (see :data:`_COPY_PROPOSALS`), on ``connection``."""
    import sqlalchemy as sa

    with_columns = "acronym" in {c["name"] for c in
                                 sa.inspect(connection).get_columns("proposal_versions")}
    copy_versions = _COPY_VERSIONS.format(
        columns=", coordinator_organisation_id, acronym" if with_columns else "",
        values=", 'ORG-' || :prefix || n, :prefix || n" if with_columns else "")
    values = {"n": n, "seed": seed, "prefix": prefix, "frozen": frozen}
    connection.execute(sa.text(_COPY_PROPOSALS), values)
    connection.execute(sa.text(copy_versions), {k: values[k] for k in ("n", "seed", "prefix")})
