"""Affinity scores from outside (operations): OpenReview or TPMS users bring the scores of
their own models as a CSV of ``expert_id,proposal_id,score``; for those pairs an imported
score takes the place of the TF-IDF text similarity in every later assignment run (first
assignments and repairs; assignments already made stay).

An import is all or nothing: every problem of every line is reported (line, field,
rule) and nothing is stored unless the whole file is clean. It bumps the pool revision,
so a solve planned before the import is planned again with the new scores.
"""
from __future__ import annotations

from services.evaluation.adapters import affinity_store as store
from services.evaluation.adapters import repository as repo
from services.evaluation.domain.affinity import AFFINITY_COLUMNS, parse_affinity_csv
from shared.web import BadRequest, Unprocessable, json_body

#: the route's body limit (413 before reading: ``shared.web``): ~400,000 lines of ids and
#: scores; larger: split the file
MAX_BYTES = 16 * 1024 * 1024


def read_csv(request) -> str:
    """The CSV text of an import: a ``text/csv`` body, or JSON ``{"csv": "..."}``."""
    if (request.content_type or "").startswith("text/csv"):
        return request.get_data(as_text=True)
    body = json_body(request)
    if not isinstance(body.get("csv"), str) or set(body) != {"csv"}:
        raise BadRequest("send text/csv, or JSON {\"csv\": \"...\"} with the columns "
                         + ",".join(AFFINITY_COLUMNS), [{"field": "csv", "rule": "is required"}])
    return body["csv"]


def import_affinities(uow, clock, text: str, operator: str) -> dict:
    with uow:
        parsed = parse_affinity_csv(text, store.pool_ids(uow), store.evaluated_proposal_ids(uow))
        if not parsed.ok:
            raise Unprocessable(
                f"{len(parsed.issues)} problem(s) in the affinity file; nothing imported",
                [{"line": i.line, "field": i.field or ("_line" if i.line else "_file"),
                  "rule": i.rule, "message": str(i)} for i in parsed.issues])
        replaced = store.save(uow, parsed.scores, clock.now(), operator)
        repo.bump_revision(uow)  # a solve planned before the import is planned again
        uow.commit()
    return {"imported": len(parsed.scores), "replaced": replaced,
            "proposals": len({p for _, p in parsed.scores}),
            "experts": len({e for e, _ in parsed.scores})}
