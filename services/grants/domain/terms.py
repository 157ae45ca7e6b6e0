"""The terms a grant preparation file starts from: who is funded, how much, when.

Built from a ranking entry (``RankingEntrySchema`` as loaded: Decimals, dicts) and the
call's :class:`~shared.calls.model.GrantRules`. Pure functions; ``now`` is passed in.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone as dt_timezone
from decimal import Decimal
from typing import Mapping
from zoneinfo import ZoneInfo

from shared.calls.model import Call, GrantRules

from services.grants.domain.money import as_money

#: the timetable stage at which applicants are told their result (and main-list
#: proposals are invited to grant preparation)
INFORMATION_STAGE = "information_to_applicants"


def require_aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value


def utc(value: datetime) -> datetime:
    """``value`` in UTC. Compare instants this way: Python compares and subtracts two
    datetimes sharing one tzinfo as wall-clock times, wrong in a daylight-saving fold."""
    return require_aware("instant", value).astimezone(dt_timezone.utc)


@dataclass(frozen=True)
class Beneficiary:
    """A participant of the funded proposal (coordinator or co-applicant)."""

    role: str
    legal_name: str
    organisation_id: str
    country: str
    contact_email: str

    @classmethod
    def from_participant(cls, participant: Mapping) -> "Beneficiary":
        return cls(role=participant["role"], legal_name=participant["legal_name"],
                   organisation_id=participant["organisation_id"],
                   country=participant["country"],
                   contact_email=participant["contact_email"])


@dataclass(frozen=True)
class Candidate:
    """A ranked proposal that may get a grant: a main-list or reserve-list entry."""

    proposal_id: str
    topic_id: str
    rank: int
    acronym: str
    requested_grant: Decimal
    total_eligible_costs: Decimal
    duration_months: int
    contact_emails: tuple[str, ...]
    beneficiaries: tuple[Beneficiary, ...] = ()

    @classmethod
    def from_ranking_entry(cls, entry: Mapping, topic_id: str) -> "Candidate":
        """One entry of ``RankingPublished.main`` or ``.reserve`` as loaded by its schema."""
        if entry.get("rank") is None:
            raise ValueError(f"ranking entry {entry.get('proposal_id')!r} has no rank: "
                             "only main and reserve entries can be funded")
        return cls(proposal_id=entry["proposal_id"], topic_id=topic_id, rank=int(entry["rank"]),
                   acronym=entry["acronym"],
                   requested_grant=as_money(entry["requested_grant"]),
                   total_eligible_costs=as_money(entry["total_eligible_costs"]),
                   duration_months=int(entry["duration_months"]),
                   contact_emails=unique_emails(entry["contact_emails"]),
                   beneficiaries=tuple(Beneficiary.from_participant(p)
                                       for p in entry.get("participants") or ()))

    @property
    def coordinator_email(self) -> str:
        """The coordinator's contact; the first proposal contact when the ranking entry
        carries no participants (the schema lets it omit them)."""
        for beneficiary in self.beneficiaries:
            if beneficiary.role == "coordinator":
                return beneficiary.contact_email
        if self.contact_emails:
            return self.contact_emails[0]
        raise ValueError(f"proposal {self.proposal_id} has neither a coordinator nor a contact")


def unique_emails(emails) -> tuple[str, ...]:
    """Addresses stripped, lower-cased and de-duplicated, first occurrence kept."""
    seen: dict[str, None] = {}
    for email in emails:
        seen.setdefault(email.strip().lower(), None)
    return tuple(e for e in seen if e)


@dataclass(frozen=True)
class Deadlines:
    """When a file was opened and by when its coordinator must act.

    Both deadlines are ``invited_at`` plus whole calendar days in the call's time zone (same
    wall-clock time, so a daylight-saving change does not shift them by an hour); an act
    *at* the deadline instant is on time."""

    invited_at: datetime
    preparation: datetime
    signature: datetime

    @classmethod
    def from_invitation(cls, invited_at: datetime, rules: GrantRules,
                        timezone: str, not_after: datetime | None = None) -> "Deadlines":
        """``not_after``: a latest instant for both deadlines (the end of the call's
        signature period for a promoted reserve proposal, see :func:`signature_cap`)."""
        require_aware("invited_at", invited_at)
        if rules.preparation_days > rules.signature_days:
            raise ValueError(f"preparation_days ({rules.preparation_days}) exceeds "
                             f"signature_days ({rules.signature_days}): the data must be "
                             "confirmed before the agreement can be signed")
        zone = ZoneInfo(timezone)
        local = invited_at.astimezone(zone)
        preparation = local + timedelta(days=rules.preparation_days)
        signature = local + timedelta(days=rules.signature_days)
        if not_after is not None:
            cap = not_after.astimezone(zone)
            preparation, signature = min(preparation, cap), min(signature, cap)
        return cls(invited_at=local, preparation=preparation, signature=signature)


def signature_cap(call: Call, promoted_from_reserve: bool) -> datetime | None:
    """The latest signature deadline a file may get: for a promoted reserve proposal, the
    end of the call's ``signature`` period, unless the call file sets
    ``grant_rules.reserve_signature_after_period: true``; no cap for the main list, for a
    call without a signature period, or when the file allows it."""
    if not promoted_from_reserve or call.grants.reserve_signature_after_period:
        return None
    period = next((s for s in call.timetable if s.name == "signature"), None)
    return period.ends_at if period is not None else None


def project_start_date(signature_deadline: datetime) -> date:
    """The first day of the month after the file's signature deadline (in the deadline's
    own time zone): the earliest start that no on-time signature can come after."""
    day = signature_deadline.date()
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def invitation_time(call: Call, ranking_published_at: datetime,
                    stage_reached_at: datetime | None = None) -> datetime:
    """When main-list proposals are invited: at the information-to-applicants stage or at
    the ranking, whichever is later. ``stage_reached_at`` is the instant a received
    ``timetable_stage_reached`` gave for the stage (it wins over the call document, which
    may have been read before an amendment); a call without that stage invites on ranking."""
    require_aware("ranking_published_at", ranking_published_at)
    if stage_reached_at is not None:
        return max(utc(stage_reached_at), utc(ranking_published_at))
    try:
        stage_at = call.stage(INFORMATION_STAGE).starts_at
    except KeyError:
        return ranking_published_at
    return max(stage_at, ranking_published_at)


def invitation_due(call: Call, ranking_published_at: datetime, now: datetime,
                   stage_reached_at: datetime | None = None) -> bool:
    """True once ``now`` has reached :func:`invitation_time`."""
    return utc(require_aware("now", now)) >= utc(
        invitation_time(call, ranking_published_at, stage_reached_at))
