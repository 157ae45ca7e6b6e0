"""Partner search: an organisation publishes a profile for a topic so that applicants
looking for partners can find it; its owner edits or withdraws it.

A profile is checked against what the call defines for the topic, where it defines it
(:class:`PartnerTerms`): the countries taking part, the eligible entity types, and the
topic's integration areas. A country outside the call is refused unless the entity type
may be established anywhere (an international organisation): such a partner could never
make a proposal eligible. Profiles are published and edited only before the submission
deadline (a partner found later is of no use); withdrawal is possible at any time.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from services.submission.domain.deadline import is_closed, require_aware, utc_iso
from services.submission.domain.errors import (DeadlinePassed, InvalidEntry,
                                               InvalidTransition, NotOwner)
from shared.calls.model import Call

MAX_AREAS = 20


class ProfileState(str, Enum):
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class PartnerTerms:
    """What the call allows partners of one topic to be; an empty tuple allows anything."""

    countries: tuple[str, ...] = ()
    entity_types: tuple[str, ...] = ()
    established_anywhere: tuple[str, ...] = ()  # entity types whose country is free
    areas: tuple[str, ...] = ()

    @classmethod
    def of(cls, call: Call, topic_id: str) -> "PartnerTerms":
        """The terms of ``topic_id``: countries and entity types from the eligibility rules
        that apply to it, areas from the topic (else from the call)."""
        rules = {rule.id: rule.params for rule in call.rules_for(topic_id)}
        topic = call.topic(topic_id)
        return cls(
            countries=tuple(call.participating_countries),
            entity_types=tuple(rules.get("entity_type", {}).get("allowed", ())),
            established_anywhere=tuple(
                rules.get("participating_country", {}).get("established_anywhere", ())),
            areas=tuple(topic.integration_areas)
            or tuple(area.id for area in call.integration_areas))


@dataclass(frozen=True)
class ProfileDetails:
    """What an organisation says of itself (the free texts are bounded by the API)."""

    organisation_name: str
    country: str
    entity_type: str
    experience: str
    areas: tuple[str, ...]
    looking_for: str

    def problems(self, terms: PartnerTerms) -> list[tuple[str, str]]:
        """Every ``(field, rule)`` these details break under ``terms``."""
        found = []
        if terms.entity_types and self.entity_type not in terms.entity_types:
            found.append(("entity_type", "must be one of the call's eligible entity types: "
                                         + ", ".join(terms.entity_types)))
        if terms.countries and self.country not in terms.countries \
                and self.entity_type not in terms.established_anywhere:
            found.append(("country", "must be a country taking part in the call: "
                                     + ", ".join(sorted(terms.countries))))
        if len(self.areas) > MAX_AREAS:
            found.append(("areas", f"at most {MAX_AREAS} areas"))
        for index, area in enumerate(self.areas):
            if terms.areas and area not in terms.areas:
                found.append((f"areas[{index}]", "unknown integration area of the topic; "
                                                 "known: " + ", ".join(terms.areas)))
        if len(set(self.areas)) != len(self.areas):
            found.append(("areas", "each area may be given once"))
        return found


@dataclass(frozen=True)
class PartnerProfile:
    """One organisation's profile for one topic, owned by the person who published it
    (``owner``, an email address in lower case)."""

    id: str
    call_id: str
    topic_id: str
    owner: str
    details: ProfileDetails
    state: ProfileState
    published_at: datetime
    updated_at: datetime
    withdrawn_at: datetime | None = None

    @classmethod
    def publish(cls, *, profile_id: str, call_id: str, topic_id: str, owner: str,
                details: ProfileDetails, terms: PartnerTerms, now: datetime,
                deadline: datetime) -> "PartnerProfile":
        _check(details, terms, now, deadline, "publish a partner profile")
        return cls(profile_id, call_id, topic_id, owner.strip().lower(), details,
                   ProfileState.PUBLISHED, now, now)

    def republish(self, *, details: ProfileDetails, terms: PartnerTerms, now: datetime,
                  deadline: datetime) -> "PartnerProfile":
        """A withdrawn profile published again by its owner, with new details."""
        if self.state is not ProfileState.WITHDRAWN:
            raise InvalidTransition(f"partner profile {self.id} is already published: "
                                    "edit it instead")
        _check(details, terms, now, deadline, "publish a partner profile")
        return replace(self, details=details, state=ProfileState.PUBLISHED, published_at=now,
                       updated_at=now, withdrawn_at=None)

    def edit(self, *, by: str, details: ProfileDetails, terms: PartnerTerms,
             now: datetime, deadline: datetime) -> "PartnerProfile":
        self._require_owner(by, "edit")
        if self.state is not ProfileState.PUBLISHED:
            raise InvalidTransition(f"partner profile {self.id} is withdrawn: publish it "
                                    "again instead")
        _check(details, terms, now, deadline, "edit a partner profile")
        return replace(self, details=details, updated_at=now)

    def withdraw(self, *, by: str, by_operations: bool, now: datetime) -> "PartnerProfile":
        """Owner or operations (moderation); withdrawing twice changes nothing."""
        if not by_operations:
            self._require_owner(by, "withdraw")
        if self.state is ProfileState.WITHDRAWN:
            return self
        return replace(self, state=ProfileState.WITHDRAWN, updated_at=now, withdrawn_at=now)

    def owned_by(self, email: str) -> bool:
        return email.strip().lower() == self.owner

    def visible_to(self, email: str, is_operations: bool) -> bool:
        """Published profiles are seen by every applicant; a withdrawn one by its owner
        and operations only."""
        return self.state is ProfileState.PUBLISHED or is_operations or self.owned_by(email)

    def _require_owner(self, by: str, doing: str) -> None:
        if not self.owned_by(by):
            raise NotOwner(f"only the organisation that published partner profile {self.id} "
                           f"may {doing} it")


def _check(details: ProfileDetails, terms: PartnerTerms, now: datetime, deadline: datetime,
           doing: str) -> None:
    if is_closed(require_aware(now, "now"), deadline):
        raise DeadlinePassed(f"cannot {doing}: the topic's submission deadline "
                             f"{utc_iso(deadline)} has passed")
    problems = details.problems(terms)
    if problems:
        raise InvalidEntry(problems)
