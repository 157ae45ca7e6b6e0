"""What the evaluators' and applicants' pages of evaluation need besides the API's
handlers: who may ask for a sign-in link, and the call's rules as a form shows them."""
from __future__ import annotations

import uuid
from datetime import datetime

from services.evaluation.adapters import repository as repo
from services.evaluation.domain.reports import DEFAULT_MIN_COMMENT_LENGTH, SCORE_STEP
from services.evaluation.handlers.common import require_call
from shared.events import EvaluatorSignInRequested


def announce(uow, email: str, next_url: str, now: datetime) -> EvaluatorSignInRequested | None:
    """A link only for an active expert of the pool (the page says the same either way).
    The mail names the newest call evaluation knows of."""
    expert = repo.expert_by_email(uow, email)
    calls = repo.call_ids(uow)
    if expert is None or not expert.active or not calls:
        return None
    call_id = max(calls, key=lambda c: repo.load_call(uow, c).deadline)
    return EvaluatorSignInRequested(call_id=call_id, correlation_id=f"sign-in-{uuid.uuid4()}",
                                    occurred_at=now, expert_id=expert.id,
                                    expert_name=expert.name, email=expert.email,
                                    next_url=next_url)


def scoring_rules(uow, call_id: str) -> dict:
    """The call's criteria as the scoring form shows them."""
    with uow:
        call = require_call(uow, call_id)
    rules = call.evaluation
    return {"call_id": call.id, "timezone": call.timezone, "currency": call.currency,
            "criteria": [{"id": c.id, "title": c.title, "max": c.max_points,
                          "threshold": c.threshold} for c in rules.criteria],
            "max_total": rules.max_total, "overall_threshold": rules.overall_threshold,
            "step": SCORE_STEP, "min_comment": DEFAULT_MIN_COMMENT_LENGTH,
            "consensus_method": rules.consensus_method,
            "required_parts": list(call.required_parts)}
