"""Storing and searching partner profiles (tables ``partner_profiles`` and
``partner_profile_areas``)."""
from __future__ import annotations

import sqlalchemy as sa

from services.submission.adapters.tables import partner_profile_areas, partner_profiles
from services.submission.domain.partners import PartnerProfile, ProfileDetails, ProfileState
from shared.db.inserts import insert_ignoring_duplicates

_P = partner_profiles.c


def _profile(row) -> PartnerProfile:
    return PartnerProfile(
        row.id, row.call_id, row.topic_id, row.owner,
        ProfileDetails(row.organisation_name, row.country, row.entity_type, row.experience,
                       tuple(row.areas), row.looking_for),
        ProfileState(row.state), row.published_at, row.updated_at, row.withdrawn_at)


def _values(profile: PartnerProfile) -> dict:
    d = profile.details
    return {"organisation_name": d.organisation_name, "country": d.country,
            "entity_type": d.entity_type, "experience": d.experience,
            "looking_for": d.looking_for, "areas": list(d.areas),
            "state": profile.state.value, "published_at": profile.published_at,
            "updated_at": profile.updated_at, "withdrawn_at": profile.withdrawn_at}


def _words(text: str) -> list[str]:
    return [word.lower() for word in text.split()]


class PartnerStore:
    def __init__(self, session):
        self.session = session

    def get(self, profile_id: str, *, lock: bool = False) -> PartnerProfile | None:
        query = sa.select(partner_profiles).where(_P.id == profile_id)
        row = self.session.execute(query.with_for_update() if lock else query).one_or_none()
        return _profile(row) if row is not None else None

    def own(self, call_id: str, topic_id: str, owner: str) -> PartnerProfile | None:
        """The owner's profile for the topic (published or withdrawn), locked."""
        row = self.session.execute(sa.select(partner_profiles).where(
            _P.call_id == call_id, _P.topic_id == topic_id, _P.owner == owner.lower())
            .with_for_update()).one_or_none()
        return _profile(row) if row is not None else None

    def add(self, profile: PartnerProfile) -> bool:
        """Insert a new profile; False (nothing written) if its owner has one for the
        topic already (the unique key decides between two requests at once)."""
        if not insert_ignoring_duplicates(
                self.session, partner_profiles, id=profile.id, call_id=profile.call_id,
                topic_id=profile.topic_id, owner=profile.owner, **_values(profile)):
            return False
        self._areas(profile)
        return True

    def save(self, profile: PartnerProfile) -> None:
        self.session.execute(partner_profiles.update().where(_P.id == profile.id)
                             .values(**_values(profile)))
        self.session.execute(partner_profile_areas.delete().where(
            partner_profile_areas.c.profile_id == profile.id))
        self._areas(profile)

    def _areas(self, profile: PartnerProfile) -> None:
        if profile.details.areas:
            self.session.execute(partner_profile_areas.insert(), [
                {"profile_id": profile.id, "area": area} for area in profile.details.areas])

    def search(self, call_id: str, topic_id: str, *, country: str | None = None,
               entity_type: str | None = None, area: str | None = None,
               text: str | None = None, limit: int = 20,
               offset: int = 0) -> tuple[int, list[PartnerProfile]]:
        """Published profiles of the topic matching every filter given, most recently
        updated first, and how many match in all. ``text``: every word must appear
        (case-insensitively) in the name, the experience or what they look for."""
        where = [_P.call_id == call_id, _P.topic_id == topic_id,
                 _P.state == ProfileState.PUBLISHED.value]
        if country:
            where.append(_P.country == country)
        if entity_type:
            where.append(_P.entity_type == entity_type)
        if area:
            where.append(sa.exists().where(partner_profile_areas.c.profile_id == _P.id,
                                           partner_profile_areas.c.area == area))
        for word in _words(text or ""):
            where.append(sa.or_(*(sa.func.lower(column).contains(word, autoescape=True)
                                  for column in (_P.organisation_name, _P.experience,
                                                 _P.looking_for))))
        total = self.session.execute(sa.select(sa.func.count()).select_from(
            partner_profiles).where(*where)).scalar()
        rows = self.session.execute(sa.select(partner_profiles).where(*where).order_by(
            _P.updated_at.desc(), _P.id).limit(limit).offset(offset))
        return total, [_profile(row) for row in rows]

    def of_owner(self, owner: str) -> list[PartnerProfile]:
        """Every profile of one owner (withdrawn ones too), newest first."""
        rows = self.session.execute(sa.select(partner_profiles).where(
            _P.owner == owner.lower()).order_by(_P.published_at.desc(), _P.id))
        return [_profile(row) for row in rows]

    def owners_of_call(self, call_id: str) -> list[str]:
        """Owners of the call's published profiles."""
        return list(self.session.execute(sa.select(_P.owner).distinct().where(
            _P.call_id == call_id, _P.state == ProfileState.PUBLISHED.value)).scalars())
