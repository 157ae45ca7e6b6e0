"""A draft created with an Idempotency-Key gets an id derived from it (keyed with the
service's secret): a replay of a call with a seed creates the same ids, so what is ordered
or tie-broken by id (which experts an assignment picks among equals) comes out the same.
Without a key the id is random."""
from services.submission import handlers
from services.submission.handlers.common import new_id, request_seed
from services.submission.schemas import ProposalCreateSchema
from tests.support.submission_data import proposal_body

from .conftest import applicant

SECRET = "s" * 40


def test_the_same_person_and_key_give_the_same_id():
    first = new_id("P", request_seed(SECRET, "a@x.org", "scenario-1/create/p001", "proposal"))
    again = new_id("P", request_seed(SECRET, "A@x.org", "scenario-1/create/p001", "proposal"))
    assert first == again and first.startswith("P-") and len(first) == 14


def test_another_person_key_purpose_or_secret_gives_another_id():
    ids = {new_id("P", request_seed(secret, email, key, purpose))
           for secret, email, key, purpose in (
               (SECRET, "a@x.org", "k1", "proposal"), (SECRET, "b@x.org", "k1", "proposal"),
               (SECRET, "a@x.org", "k2", "proposal"), (SECRET, "a@x.org", "k1", "profile"),
               ("t" * 40, "a@x.org", "k1", "proposal"))}
    assert len(ids) == 5


def test_without_a_key_the_id_is_random():
    assert request_seed(SECRET, "a@x.org", None, "proposal") is None
    assert request_seed(SECRET, "a@x.org", "", "proposal") is None
    assert new_id("P") != new_id("P")


def test_a_key_reused_after_its_record_expired_gets_a_second_draft_with_a_random_id(
        uows, clock, published):
    seed = request_seed(SECRET, applicant().email, "reused-key", "proposal")
    first, second = (handlers.create(uows(), applicant(),
                                     ProposalCreateSchema().load(proposal_body()), clock.now(),
                                     id_seed=seed)
                     for _ in range(2))
    assert first["id"] == new_id("P", seed)
    assert second["id"] != first["id"] and second["id"].startswith("P-")
