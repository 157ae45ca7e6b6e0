"""What the applicants' pages show about a call: its topics, integration areas, the
entity types and countries its rules accept (offered in the form), its parts and rules,
its deadline, and whether the results are out (read only)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from services.submission.adapters.call_store import CallStore
from services.submission.adapters.tables import fired_milestones
from shared.calls.model import countries_participating
from shared.web import NotFound

RESULTS_MILESTONE = "information_to_applicants"


def call_choices(uow, call_id: str, now: datetime) -> dict:
    with uow:
        published = CallStore(uow.session).current(call_id)
        if published is None:
            raise NotFound(f"no call {call_id} is published", code="call_not_found")
        fired = set(uow.session.execute(sa.select(fired_milestones.c.milestone).where(
            fired_milestones.c.call_id == call_id)).scalars())
    call = published.call
    rules = {rule.id: rule for rule in call.eligibility}
    countries: list[str] = []
    if "participating_country" in rules:
        params = rules["participating_country"].params
        at = call.stage(params.get("at_stage", "submission_deadline")).starts_at
        countries = sorted(countries_participating(params["members"], at))
    return {
        "call_id": call.id, "title": call.title, "timezone": call.timezone,
        "currency": call.currency, "deadline": call.deadline, "open": now < call.deadline,
        "topics": [{"id": t.id, "title": t.title, "areas": list(t.integration_areas)}
                   for t in call.topics],
        "areas": [{"id": a.id, "label": a.label} for a in call.integration_areas],
        "entity_types": list(rules["entity_type"].params["allowed"])
        if "entity_type" in rules else [],
        "countries": countries,
        "required_parts": list(call.required_parts),
        "rules": [{"id": r.id, "description": r.description or r.id.replace("_", " "),
                   "topics": list(r.topics), "severity": r.severity} for r in call.eligibility],
        "results_released": RESULTS_MILESTONE in fired,
    }
