"""Codes carried by events, said in plain words for letters."""
from __future__ import annotations

GRANT_END_REASONS = {
    "declined": "the coordinator declined the grant",
    "withdrawn": "the proposal was withdrawn",
    "preparation_deadline_missed": "the grant data was not confirmed by the preparation "
                                   "deadline",
    "signature_deadline_missed": "the grant agreement was not signed by the coordinator by "
                                 "the signature deadline",
}

ASSIGNMENT_REASONS = {
    "initial": "you are one of the evaluators of this proposal",
    "repair": "you replace an evaluator who was released from this proposal",
    "extra": "the evaluators' scores differ widely, so a further evaluation is needed",
    "rapporteur": "you are asked to act as rapporteur and draft the consensus report",
}

RELEASE_REASONS = {
    "conflict_declared": "you declared a conflict of interest",
    "declined": "you declined the assignment",
    "proposal_withdrawn": "the applicant withdrew the proposal",
    "deactivated": "your expert account was deactivated",
    "operations": "the evaluation team reassigned the proposal",
}

MEASURES = {"tti": "time to inform", "ttg": "time to grant"}


def say(table: dict[str, str], code: str) -> str:
    """The plain words for ``code``, or the code itself with underscores as spaces when a
    producer sends a code this table does not know yet (tolerant reader)."""
    return table.get(code, code.replace("_", " "))
