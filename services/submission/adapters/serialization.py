"""Stored JSON forms of the submission domain's values (money as text, parts by hash)."""
from __future__ import annotations

from decimal import Decimal

from services.submission.domain.eligibility import RuleFailure
from services.submission.domain.proposal import Part, Participant, ProposalContent
from services.submission.domain.screening import ScreeningResult

_PARTICIPANT_FIELDS = ("legal_name", "organisation_id", "country", "entity_type",
                       "local_or_regional_authority", "experienced_in_integration",
                       "contact_email")


def participant_to_json(participant: Participant) -> dict:
    return {name: getattr(participant, name) for name in _PARTICIPANT_FIELDS}


def participant_from_json(data: dict) -> Participant:
    return Participant(**{name: data[name] for name in _PARTICIPANT_FIELDS})


def part_to_json(part: Part) -> dict:
    return {"name": part.name, "sha256": part.sha256, "size": part.size,
            "filename": part.filename}


def part_from_json(data: dict) -> Part:
    return Part(data["name"], data["sha256"], data["size"], data.get("filename", ""))


def content_to_json(content: ProposalContent) -> dict:
    return {"acronym": content.acronym, "title": content.title, "abstract": content.abstract,
            "coordinator": participant_to_json(content.coordinator),
            "co_applicants": [participant_to_json(p) for p in content.co_applicants],
            "integration_areas": list(content.integration_areas),
            "duration_months": content.duration_months,
            "total_eligible_costs": str(content.total_eligible_costs),
            "requested_grant": str(content.requested_grant),
            "parts": [part_to_json(p) for p in content.parts]}


def content_from_json(data: dict) -> ProposalContent:
    return ProposalContent(
        acronym=data["acronym"], title=data["title"], abstract=data["abstract"],
        coordinator=participant_from_json(data["coordinator"]),
        co_applicants=tuple(participant_from_json(p) for p in data["co_applicants"]),
        integration_areas=tuple(data["integration_areas"]),
        duration_months=data["duration_months"],
        total_eligible_costs=Decimal(data["total_eligible_costs"]),
        requested_grant=Decimal(data["requested_grant"]),
        parts=tuple(part_from_json(p) for p in data["parts"]))


def contacts_of(content_json: dict) -> set[str]:
    """Lower-case contact addresses of a stored content (the access list)."""
    people = [content_json["coordinator"], *content_json["co_applicants"]]
    return {p["contact_email"].strip().lower() for p in people}


def _failure_to_json(failure: RuleFailure) -> dict:
    return {**failure.to_dict(), "severity": failure.severity}


def _failure_from_json(data: dict) -> RuleFailure:
    return RuleFailure(data["rule"], data["kind"], data["message"], data.get("values", {}),
                       data.get("severity", "error"))


def screening_to_json(result: ScreeningResult) -> dict:
    return {"proposal_id": result.proposal_id, "topic_id": result.topic_id,
            "version": result.version, "admissible": result.admissible,
            "eligible": result.eligible,
            "failed_rules": [_failure_to_json(f) for f in result.failed_rules],
            "warnings": [_failure_to_json(f) for f in result.warnings]}


def screening_from_json(data: dict) -> ScreeningResult:
    return ScreeningResult(
        proposal_id=data["proposal_id"], topic_id=data["topic_id"], version=data["version"],
        admissible=data["admissible"], eligible=data["eligible"],
        failed_rules=tuple(_failure_from_json(f) for f in data["failed_rules"]),
        warnings=tuple(_failure_from_json(f) for f in data["warnings"]))
