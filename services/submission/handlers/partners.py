"""Partner search: organisations publish, edit and withdraw a profile for a topic;
applicants search the published ones. One transaction per command."""
from __future__ import annotations

from datetime import datetime

from services.submission.adapters.partner_store import PartnerStore
from services.submission.domain.partners import (PartnerProfile, PartnerTerms,
                                                 ProfileDetails, ProfileState)
from services.submission.handlers.common import (iso, new_id, published_topic, refusals,
                                                 topic_page)
from shared.web import Conflict, NotFound


def _details(data: dict) -> ProfileDetails:
    return ProfileDetails(data["organisation_name"].strip(), data["country"],
                          data["entity_type"], data["experience"].strip(),
                          tuple(data["areas"]), data["looking_for"].strip())


def profile_view(profile: PartnerProfile, principal) -> dict:
    """``PartnerProfileSchema``; the contact address is the owner's."""
    d = profile.details
    return {"id": profile.id, "call_id": profile.call_id, "topic_id": profile.topic_id,
            "organisation_name": d.organisation_name, "country": d.country,
            "entity_type": d.entity_type, "experience": d.experience,
            "areas": list(d.areas), "looking_for": d.looking_for,
            "contact_email": profile.owner, "state": profile.state.value,
            "published_at": iso(profile.published_at), "updated_at": iso(profile.updated_at),
            "withdrawn_at": iso(profile.withdrawn_at), "mine": profile.owned_by(principal.email)}


def _visible(store: PartnerStore, principal, profile_id: str, lock: bool = False):
    profile = store.get(profile_id, lock=lock)
    if profile is None or not profile.visible_to(principal.email, principal.is_operations):
        raise NotFound(f"no partner profile {profile_id}", code="profile_not_found")
    return profile


def _exists(profile_id: str, topic_id: str) -> Conflict:
    return Conflict(f"you already published partner profile {profile_id} for topic "
                    f"{topic_id}: edit it instead", code="profile_exists")


# ----------------------------------------------------------------------- commands
def publish(uow, principal, call_id: str, topic_id: str, data: dict,
            now: datetime) -> tuple[int, dict]:
    """Publish the caller's profile for the topic (201); a profile they withdrew is
    published again with the new details (200). One profile per person and topic: if
    theirs is published, 409 naming it."""
    details = _details(data)
    with uow:
        call = published_topic(uow.session, call_id, topic_id)
        store = PartnerStore(uow.session)
        terms = PartnerTerms.of(call, topic_id)
        existing = store.own(call_id, topic_id, principal.email)
        if existing is not None and existing.state is ProfileState.PUBLISHED:
            raise _exists(existing.id, topic_id)
        with refusals():
            if existing is None:
                profile = PartnerProfile.publish(
                    profile_id=new_id("PP"), call_id=call_id, topic_id=topic_id,
                    owner=principal.email, details=details, terms=terms, now=now,
                    deadline=call.deadline)
            else:
                profile = existing.republish(details=details, terms=terms, now=now,
                                             deadline=call.deadline)
        if existing is not None:
            store.save(profile)
        elif not store.add(profile):  # the same person publishing twice at once
            raise _exists(store.own(call_id, topic_id, principal.email).id, topic_id)
        uow.commit()
    return (201 if existing is None else 200), profile_view(profile, principal)


def edit(uow, principal, profile_id: str, data: dict, now: datetime) -> dict:
    """Change the owner's profile (the whole of it: the form sends every field)."""
    details = _details(data)
    with uow:
        store = PartnerStore(uow.session)
        profile = _visible(store, principal, profile_id, lock=True)
        call = published_topic(uow.session, profile.call_id, profile.topic_id)
        with refusals():
            profile = profile.edit(by=principal.email, details=details,
                                   terms=PartnerTerms.of(call, profile.topic_id), now=now,
                                   deadline=call.deadline)
        store.save(profile)
        uow.commit()
    return profile_view(profile, principal)


def withdraw(uow, principal, profile_id: str, now: datetime) -> dict:
    """Take the profile out of the search (its owner, or operations)."""
    with uow:
        store = PartnerStore(uow.session)
        profile = _visible(store, principal, profile_id, lock=True)
        with refusals():
            profile = profile.withdraw(by=principal.email,
                                       by_operations=principal.is_operations, now=now)
        store.save(profile)
        uow.commit()
    return profile_view(profile, principal)


# ----------------------------------------------------------------------- queries
def get(uow, principal, profile_id: str) -> dict:
    with uow:
        return profile_view(_visible(PartnerStore(uow.session), principal, profile_id),
                            principal)


def search(uow, principal, call_id: str, topic_id: str, *, limit: int, offset: int,
           country: str | None = None, entity_type: str | None = None,
           area: str | None = None, q: str | None = None) -> dict:
    """Published profiles of the topic matching the filters (``q``: words to find), a
    page at a time."""
    with uow:
        published_topic(uow.session, call_id, topic_id)
        total, found = PartnerStore(uow.session).search(
            call_id, topic_id, country=country, entity_type=entity_type, area=area, text=q,
            limit=limit, offset=offset)
        return topic_page(call_id, topic_id, total, limit, offset,
                          profiles=[profile_view(p, principal) for p in found])


def mine(uow, principal) -> list[dict]:
    """The caller's own profiles, withdrawn ones included."""
    with uow:
        return [profile_view(p, principal)
                for p in PartnerStore(uow.session).of_owner(principal.email)]
