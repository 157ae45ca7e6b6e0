"""Partner profiles: the domain's rules against the call, and the handlers on a real
SQLite unit of work (publish, search with every filter, edit, withdraw, republish)."""
from datetime import timedelta

import pytest

from services.submission.domain.errors import DeadlinePassed, InvalidEntry, NotOwner
from services.submission.domain.partners import PartnerProfile, PartnerTerms, ProfileDetails
from services.submission.handlers import partners
from services.submission.schemas import (PartnerProfileBodySchema, PartnerProfileSchema,
                                         PartnerSearchSchema)
from shared.calls.loader import load_default_call
from shared.web import Conflict, Forbidden, NotFound, Unprocessable
from tests.support.submission_data import CALL_ID, DEADLINE, TOPIC_1, TOPIC_3

from .conftest import OPS, applicant
from .handler_steps import conforms

pytestmark = pytest.mark.usefixtures("published")


def body(name="Stad Gent", country="BE", entity_type="public_body",
         areas=("housing",), **overrides) -> dict:
    data = {"organisation_name": name, "country": country, "entity_type": entity_type,
            "experience": "Ten years of one-stop shops for newcomers.",
            "areas": list(areas), "looking_for": "A partner with labour market experience."}
    return PartnerProfileBodySchema().load({**data, **overrides})


def publish(uows, clock, who, topic=TOPIC_1, **kw):
    status, view = partners.publish(uows(), who, CALL_ID, topic, body(**kw), clock.now())
    return status, conforms(PartnerProfileSchema, view)


def search(uows, who=None, topic=TOPIC_1, limit=20, offset=0, **filters):
    return conforms(PartnerSearchSchema, partners.search(
        uows(), who or applicant("searcher@example.eu"), CALL_ID, topic, limit=limit,
        offset=offset, **filters))


# ----------------------------------------------------------------------- the call's terms
def test_terms_come_from_the_call_and_the_topic():
    call = load_default_call()
    terms = PartnerTerms.of(call, TOPIC_1)
    assert "DK" not in terms.countries and "BE" in terms.countries
    assert terms.entity_types == ("public_body", "non_profit_private",
                                  "international_organisation")
    assert terms.established_anywhere == ("international_organisation",)
    assert "housing" in terms.areas
    # topic 3 lists no areas of its own: the call's areas apply
    assert PartnerTerms.of(call, TOPIC_3).areas == tuple(a.id for a in call.integration_areas)


def test_every_broken_term_is_named_at_once():
    terms = PartnerTerms.of(load_default_call(), TOPIC_1)
    details = ProfileDetails("Aarhus", "DK", "company", "x", ("housing", "astrology",
                                                               "housing"), "y")
    assert [field for field, _ in details.problems(terms)] == [
        "entity_type", "country", "areas[1]", "areas"]
    anywhere = ProfileDetails("IOM", "CH", "international_organisation", "x", (), "y")
    assert anywhere.problems(terms) == []


# ----------------------------------------------------------------------- handlers
def test_publish_search_edit_and_withdraw(uows, clock):
    ghent, lyon = applicant("Ghent@Example.eu"), applicant("lyon@example.eu")
    status, mine = publish(uows, clock, ghent)
    assert status == 201 and mine["contact_email"] == "ghent@example.eu" and mine["mine"]
    publish(uows, clock, lyon, name="Ville de Lyon", country="FR",
            entity_type="non_profit_private", areas=("labour_market", "housing"),
            looking_for="Cities in the south; 100% co-financing.")
    publish(uows, clock, applicant("iom@example.int"), name="IOM", country="CH",
            entity_type="international_organisation", areas=())

    assert search(uows)["total"] == 3
    assert [p["organisation_name"] for p in search(uows, country="FR")["profiles"]] == \
        ["Ville de Lyon"]
    assert search(uows, entity_type="public_body")["profiles"][0]["id"] == mine["id"]
    assert {p["organisation_name"] for p in search(uows, area="housing")["profiles"]} == \
        {"Stad Gent", "Ville de Lyon"}
    assert search(uows, q="LABOUR market")["total"] == 2  # every word, any field
    assert search(uows, q="south 100%")["total"] == 1  # % is a character, not a wildcard
    assert search(uows, q="100_")["total"] == 0
    page = search(uows, limit=2, offset=2)
    assert (page["total"], len(page["profiles"])) == (3, 1)
    assert search(uows, topic="AMIF-2018-AG-INTE-2")["total"] == 0

    with pytest.raises(Forbidden):
        partners.edit(uows(), lyon, mine["id"], body(name="Hijacked"), clock.now())
    edited = partners.edit(uows(), ghent, mine["id"], body(name="Stad Gent (OCMW)"),
                           clock.now())
    assert edited["organisation_name"] == "Stad Gent (OCMW)"

    with pytest.raises(Forbidden):
        partners.withdraw(uows(), lyon, mine["id"], clock.now())
    assert partners.withdraw(uows(), ghent, mine["id"], clock.now())["state"] == "withdrawn"
    assert search(uows)["total"] == 2
    with pytest.raises(NotFound):  # a withdrawn profile is its owner's business only
        partners.get(uows(), lyon, mine["id"])
    assert partners.get(uows(), OPS, mine["id"])["state"] == "withdrawn"
    assert [p["state"] for p in partners.mine(uows(), ghent)] == ["withdrawn"]

    status, again = publish(uows, clock, ghent, name="Stad Gent again")
    assert (status, again["id"], again["state"]) == (200, mine["id"], "published")
    with pytest.raises(Conflict) as twice:
        publish(uows, clock, ghent)
    assert twice.value.code == "profile_exists" and mine["id"] in twice.value.message


def test_operations_may_withdraw_any_profile(uows, clock):
    _, profile = publish(uows, clock, applicant())
    assert partners.withdraw(uows(), OPS, profile["id"], clock.now())["state"] == "withdrawn"


def test_a_profile_outside_the_call_is_refused_naming_each_field(uows, clock):
    with pytest.raises(Unprocessable) as refused:
        publish(uows, clock, applicant(), country="DK", areas=("astrology",))
    assert [e["field"] for e in refused.value.errors] == ["country", "areas[0]"]
    assert search(uows)["total"] == 0


def test_unknown_call_or_topic_is_a_404(uows, clock):
    with pytest.raises(NotFound) as unknown:
        partners.publish(uows(), applicant(), CALL_ID, "NO-TOPIC", body(), clock.now())
    assert unknown.value.code == "topic_not_found"
    with pytest.raises(NotFound) as no_call:
        partners.search(uows(), applicant(), "NO-CALL", TOPIC_1, limit=20, offset=0)
    assert no_call.value.code == "call_not_found"


def test_profiles_close_at_the_deadline_but_can_still_be_withdrawn(uows, clock):
    _, profile = publish(uows, clock, applicant())
    clock.set(DEADLINE)
    with pytest.raises(Conflict) as late:
        partners.edit(uows(), applicant(), profile["id"], body(), clock.now())
    assert late.value.code == "deadline_passed"
    with pytest.raises(Conflict):
        publish(uows, clock, applicant("late@example.eu"))
    assert partners.withdraw(uows(), applicant(), profile["id"],
                             clock.now())["state"] == "withdrawn"


def test_domain_refusals_carry_the_rule():
    terms = PartnerTerms.of(load_default_call(), TOPIC_1)
    details = ProfileDetails("Gent", "BE", "public_body", "x", (), "y")
    at = DEADLINE - timedelta(days=1)
    profile = PartnerProfile.publish(profile_id="PP-1", call_id=CALL_ID, topic_id=TOPIC_1,
                                     owner="A@B.eu", details=details, terms=terms, now=at,
                                     deadline=DEADLINE)
    assert profile.owner == "a@b.eu"
    with pytest.raises(NotOwner):
        profile.edit(by="c@d.eu", details=details, terms=terms, now=at, deadline=DEADLINE)
    with pytest.raises(DeadlinePassed):
        profile.edit(by="a@b.eu", details=details, terms=terms, now=DEADLINE,
                     deadline=DEADLINE)
    with pytest.raises(InvalidEntry):
        profile.edit(by="a@b.eu", details=ProfileDetails("Gent", "US", "public_body", "x",
                                                         (), "y"),
                     terms=terms, now=at, deadline=DEADLINE)
